//! `cred` events: user/group ids or capabilities changed (or a change was refused), with the
//! credentials before and after.
use monitor_common::{
    EventKind,
    cred::{
        CRED_SYSCALL_CAPSET, CRED_SYSCALL_SETFSGID, CRED_SYSCALL_SETFSUID, CRED_SYSCALL_SETGID, CRED_SYSCALL_SETREGID,
        CRED_SYSCALL_SETRESGID, CRED_SYSCALL_SETRESUID, CRED_SYSCALL_SETREUID, CRED_SYSCALL_SETUID, CredEvent,
        Creds as WireCreds, Ids,
    },
};
use serde::Serialize;

use super::{
    DecodeError, Field, KindInfo, Line, Notes, Value,
    process_names::{
        capability_names, describe_exe, describe_result, result_field, syscall_from_log, syscall_id, syscall_name,
    },
    read_record, tail_string,
};
use crate::schema::{self, ConvertError};

const SYSCALLS: [(u8, &str); 9] = [
    (CRED_SYSCALL_SETUID, "setuid"),
    (CRED_SYSCALL_SETGID, "setgid"),
    (CRED_SYSCALL_SETREUID, "setreuid"),
    (CRED_SYSCALL_SETREGID, "setregid"),
    (CRED_SYSCALL_SETRESUID, "setresuid"),
    (CRED_SYSCALL_SETRESGID, "setresgid"),
    (CRED_SYSCALL_SETFSUID, "setfsuid"),
    (CRED_SYSCALL_SETFSGID, "setfsgid"),
    (CRED_SYSCALL_CAPSET, "capset"),
];

/// A task's credentials.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Creds {
    #[serde(flatten)]
    pub ids: Ids,
    /// Effective capabilities, by name.
    pub cap_effective: Vec<String>,
    #[serde(skip)]
    pub cap_effective_bits: u64,
    #[serde(skip)]
    pub cap_permitted_bits: u64,
}

/// `$ty { uid: $c.uid, …, fsgid: $c.fsgid, $rest }`: the eight ids carry the same names in the
/// kernel's record and the log.
macro_rules! with_ids {
    ($ty:path { $($rest:tt)* } from $c:expr) => {{
        let c = $c;
        $ty {
            uid: c.uid,
            euid: c.euid,
            suid: c.suid,
            fsuid: c.fsuid,
            gid: c.gid,
            egid: c.egid,
            sgid: c.sgid,
            fsgid: c.fsgid,
            $($rest)*
        }
    }};
}

impl Creds {
    fn of_wire(c: &WireCreds) -> Self {
        Self {
            ids: c.ids,
            cap_effective: capability_names(c.cap_effective),
            cap_effective_bits: c.cap_effective,
            cap_permitted_bits: c.cap_permitted,
        }
    }

    fn of_proto(c: &schema::Creds) -> Self {
        Self::of_wire(&WireCreds {
            ids: with_ids!(Ids {} from c),
            cap_effective: c.cap_effective,
            cap_permitted: c.cap_permitted,
        })
    }

    fn to_proto(&self) -> schema::Creds {
        with_ids!(schema::Creds {
            cap_effective: self.cap_effective_bits,
            cap_permitted: self.cap_permitted_bits,
        } from self.ids)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CredInfo {
    pub syscall: &'static str,
    /// The arguments (capset: effective, permitted, inheritable sets).
    pub args: Vec<u64>,
    pub result: i64,
    /// Before the call (absent if its entry was not seen).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Creds>,
    pub new: Creds,
    /// Effective capabilities the call added.
    pub cap_gained: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_exe: Option<String>,
}

impl CredInfo {
    fn build(
        syscall: &'static str,
        args: Vec<u64>,
        result: i64,
        old: Option<Creds>,
        new: Creds,
        kernel_exe: Option<String>,
    ) -> Self {
        let before = old.as_ref().map_or(0, |o| o.cap_effective_bits);
        Self {
            syscall,
            args,
            result,
            cap_gained: capability_names(new.cap_effective_bits & !before),
            old,
            new,
            kernel_exe,
        }
    }
}

impl KindInfo for CredInfo {
    const KIND: EventKind = EventKind::Cred;
    const FIELDS: &'static [Field] = &[
        Field::CredSyscall,
        Field::CredUid,
        Field::CredEuid,
        Field::CredGid,
        Field::CredEgid,
        Field::CredOldUid,
        Field::CredOldEuid,
        Field::CredOldGid,
        Field::CredOldEgid,
        Field::CapEffective,
        Field::CapGained,
        Field::EvtFailed,
        Field::EvtErrno,
    ];

    fn decode(bytes: &[u8], notes: &mut Notes) -> Result<Self, DecodeError> {
        let ev: CredEvent = read_record(bytes, "cred event")?;
        // Only the arguments the syscall takes; ids are 32-bit (`-1`, "leave unchanged", reads as
        // 4294967295).
        let (n, id_mask) = match ev.syscall {
            CRED_SYSCALL_SETREUID | CRED_SYSCALL_SETREGID => (2, u64::from(u32::MAX)),
            CRED_SYSCALL_SETRESUID | CRED_SYSCALL_SETRESGID => (3, u64::from(u32::MAX)),
            CRED_SYSCALL_CAPSET => (3, u64::MAX),
            _ => (1, u64::from(u32::MAX)),
        };
        Ok(Self::build(
            syscall_name(&SYSCALLS, ev.syscall),
            ev.args[..n].iter().map(|a| a & id_mask).collect(),
            ev.result,
            (ev.has_old != 0).then(|| Creds::of_wire(&ev.old)),
            Creds::of_wire(&ev.new),
            tail_string(bytes, ev.exe, "cred exe", notes)?,
        ))
    }

    fn describe(&self, line: &mut Line<'_>) {
        line.lit(self.syscall).lit("(");
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                line.lit(", ");
            }
            if self.syscall == "capset" {
                line.num(format_args!("{a:#x}"));
            } else {
                // Ids are 32-bit; -1 (leave unchanged) reads as such.
                line.num(*a as u32 as i32);
            }
        }
        line.lit(")");
        if let Some(o) = &self.old {
            line.lit(" uid=").num(o.ids.uid).lit("->").num(self.new.ids.uid);
            line.lit(" euid=").num(o.ids.euid).lit("->").num(self.new.ids.euid);
            line.lit(" gid=").num(o.ids.gid).lit("->").num(self.new.ids.gid);
        } else {
            line.lit(" uid=").num(self.new.ids.uid).lit(" euid=").num(self.new.ids.euid);
        }
        if !self.cap_gained.is_empty() {
            line.lit(" gained=").list(&self.cap_gained);
        }
        describe_result(line, self.result);
        describe_exe(line, self.kernel_exe.as_deref());
    }

    fn field(&self, field: Field) -> Option<Value<'_>> {
        let old = self.old.as_ref();
        Some(match field {
            Field::CredSyscall => Value::Str(self.syscall),
            Field::CredUid => Value::Num(self.new.ids.uid.into()),
            Field::CredEuid => Value::Num(self.new.ids.euid.into()),
            Field::CredGid => Value::Num(self.new.ids.gid.into()),
            Field::CredEgid => Value::Num(self.new.ids.egid.into()),
            Field::CredOldUid => Value::Num(old?.ids.uid.into()),
            Field::CredOldEuid => Value::Num(old?.ids.euid.into()),
            Field::CredOldGid => Value::Num(old?.ids.gid.into()),
            Field::CredOldEgid => Value::Num(old?.ids.egid.into()),
            Field::CapEffective => Value::Strs(&self.new.cap_effective),
            Field::CapGained => Value::Strs(&self.cap_gained),
            _ => return result_field(self.result, field),
        })
    }

    type Proto = schema::Cred;

    fn to_proto(&self) -> schema::Cred {
        schema::Cred {
            syscall: syscall_id(&SYSCALLS, self.syscall),
            result: self.result,
            args: self.args.clone(),
            old: self.old.as_ref().map(Creds::to_proto),
            new: Some(self.new.to_proto()),
            kernel_exe: self.kernel_exe.clone(),
        }
    }

    fn from_proto(p: schema::Cred) -> Result<Self, ConvertError> {
        Ok(Self::build(
            syscall_from_log(&SYSCALLS, p.syscall, "cred syscall")?,
            p.args,
            p.result,
            p.old.as_ref().map(Creds::of_proto),
            Creds::of_proto(p.new.as_ref().ok_or(ConvertError::Missing("cred.new"))?),
            p.kernel_exe,
        ))
    }
}
