//! The rule engine's view of event fields: names come from the event catalogue
//! ([`crate::event::field`]), values from the enriched event (process and agent facts, which every
//! event has) and from the event's own kind ([`crate::event::Body::field`]).
use std::{fmt::Write, net::IpAddr, sync::OnceLock};

pub(super) use crate::event::field::{CATALOGUE, Field, FieldInfo, FieldType};
use crate::{
    enrich::Enriched,
    event::{self, Body, Value},
};

/// An event kind, as rules name it (`evt.kind = open`).
pub(crate) type Kind = monitor_common::EventKind;

/// The kind rules evaluate this event as; `None` for kinds rules do not see (process lifecycle,
/// deny notices).
pub(super) fn kind_of(body: &Body) -> Option<Kind> {
    body.has_rules().then(|| body.kind())
}

/// The kinds rules apply to, in wire order.
pub(crate) fn rule_kinds() -> impl Iterator<Item = Kind> {
    event::KINDS.iter().filter(|(_, rules, _)| *rules).map(|(k, _, _)| *k)
}

/// A set of event kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(super) struct KindSet(u64);

impl KindSet {
    pub(super) const NONE: KindSet = KindSet(0);

    pub(super) fn of(k: Kind) -> KindSet {
        KindSet(1 << (u32::from(k as u16) % 64))
    }
    /// Every kind rules apply to.
    pub(super) fn rules() -> KindSet {
        rule_kinds().fold(KindSet::NONE, |s, k| s.union(KindSet::of(k)))
    }
    pub(super) fn contains(self, k: Kind) -> bool {
        self.0 & KindSet::of(k).0 != 0
    }
    pub(super) fn union(self, o: KindSet) -> KindSet {
        KindSet(self.0 | o.0)
    }
    pub(super) fn kinds(self) -> impl Iterator<Item = Kind> {
        rule_kinds().filter(move |k| self.contains(*k))
    }
    pub(super) fn names(self) -> String {
        self.kinds().map(Kind::name).collect::<Vec<_>>().join(", ")
    }
}

/// The rule kinds an event of which carries `field`: every one for a common field, else those
/// whose kind lists it.
pub(super) fn kinds_of(field: Field) -> KindSet {
    static TABLE: OnceLock<Vec<KindSet>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        CATALOGUE
            .iter()
            .map(|f| {
                if f.common {
                    return KindSet::rules();
                }
                // Filled by the enrich stage, not read from the body: the kinds that reach an agent.
                if f.field == Field::NetDstAgent {
                    return ["connect", "send"]
                        .into_iter()
                        .filter_map(Kind::from_name)
                        .fold(KindSet::NONE, |s, k| s.union(KindSet::of(k)));
                }
                event::KINDS
                    .iter()
                    .filter(|(_, rules, fields)| *rules && fields.contains(&f.field))
                    .fold(KindSet::NONE, |s, (k, _, _)| s.union(KindSet::of(*k)))
            })
            .collect()
    });
    table[field as usize]
}

/// One value per event kind (a rule's condition specialised for each kind it can match).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct PerKind<T>(Vec<(Kind, T)>);

impl<T> PerKind<T> {
    pub(super) fn from_fn(kinds: KindSet, mut f: impl FnMut(Kind) -> T) -> Self {
        Self(kinds.kinds().map(|k| (k, f(k))).collect())
    }
    pub(super) fn get(&self, k: Kind) -> Option<&T> {
        self.0.iter().find(|(kind, _)| *kind == k).map(|(_, t)| t)
    }
    pub(super) fn kinds(&self) -> impl Iterator<Item = Kind> + '_ {
        self.0.iter().map(|(k, _)| *k)
    }
    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.0.iter_mut().map(|(_, t)| t)
    }
}

pub(super) fn lookup(name: &str) -> Option<&'static FieldInfo> {
    Field::from_name(name).map(Field::info)
}

pub(super) fn info(field: Field) -> &'static FieldInfo {
    field.info()
}

/// Reads a string field, `None` when the event does not carry it. `proc.args` is read through
/// [`super::eval::EventView`], which joins argv once.
pub(super) fn str_value(field: Field, ev: &Enriched) -> Option<&str> {
    let body = &ev.event.body;
    Some(match field {
        Field::EvtKind => body.kind_name(),
        Field::ProcExe => &ev.exe,
        Field::ProcName => &ev.event.header.comm,
        Field::ProcPexe => ev.ancestors.first().map_or("", |a| a.exe.as_str()),
        Field::ProcExeName => basename(&ev.exe),
        Field::ProcPexeName => basename(ev.ancestors.first().map_or("", |a| a.exe.as_str())),
        Field::NetDstAgent if !ev.facts.dst_agent.is_empty() => &ev.facts.dst_agent,
        Field::NetDstAgent => return None,
        Field::AgentName => &ev.agent,
        Field::AgentCgroup => &ev.cgroup,
        Field::ContainerId => ev.container_field(|c| &c.id),
        Field::ContainerName => ev.container_field(|c| &c.name),
        Field::ContainerImage => ev.container_field(|c| &c.image),
        // The path the enrich stage resolved (cwd/dirfd joined, symlinks followed), where it did.
        Field::FilePath | Field::ExecPath if ev.resolved_path.is_some() && body.field(field).is_some() => {
            ev.resolved_path.as_deref().unwrap_or_default()
        }
        _ => return body.field(field)?.as_str(),
    })
}

pub(super) fn num_value(field: Field, ev: &Enriched) -> Option<u64> {
    let h = &ev.event.header;
    Some(match field {
        Field::ProcPid => h.pid.into(),
        Field::ProcPpid => h.ppid.into(),
        Field::ProcUid => h.uid.into(),
        _ => return ev.event.body.field(field)?.as_num(),
    })
}

pub(super) fn bool_value(field: Field, ev: &Enriched) -> Option<bool> {
    if field == Field::ProcIsAgentRoot {
        return Some(ev.facts.agent_root);
    }
    ev.event.body.field(field)?.as_bool()
}

/// The last component of a path (`/usr/bin/python3.12` → `python3.12`; a kernel path such as
/// `/memfd:x (deleted)` → `memfd:x (deleted)`).
fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Calls `f` on each value of a multi-valued field until it returns true.
pub(super) fn any_value(field: Field, ev: &Enriched, mut f: impl FnMut(&str) -> bool) -> bool {
    match field {
        Field::ProcAexe => ev.ancestors.iter().any(|a| f(&a.exe)),
        _ => match ev.event.body.field(field) {
            Some(Value::Strs(items)) => items.iter().any(|a| f(a)),
            _ => false,
        },
    }
}

/// Normalises an address: IPv4-mapped IPv6 becomes IPv4.
pub(super) fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// A field's value as text, for `%field` substitution in outputs and for sequence keys.
pub(super) fn render(field: Field, ev: &Enriched) -> String {
    let mut out = String::new();
    render_into(field, ev, &mut out);
    out
}

/// [`render`], appended to `out` (an output template renders every field without allocating).
pub(super) fn render_into(field: Field, ev: &Enriched, out: &mut String) {
    match info(field).ty {
        FieldType::Num => {
            if let Some(n) = num_value(field, ev) {
                let _ = write!(out, "{n}");
            }
        }
        FieldType::Bool => {
            if let Some(b) = bool_value(field, ev) {
                out.push_str(if b { "true" } else { "false" });
            }
        }
        FieldType::StrList => {
            let sep = if field == Field::ProcAexe { "," } else { " " };
            let mut first = true;
            any_value(field, ev, |s| {
                if !first {
                    out.push_str(sep);
                }
                first = false;
                out.push_str(s);
                false
            });
        }
        FieldType::Kind | FieldType::Str | FieldType::Addr => match field {
            Field::ProcArgs => {
                if let Some(Value::Strs(argv)) = ev.event.body.field(Field::ProcArgv) {
                    for (i, a) in argv.iter().enumerate() {
                        if i > 0 {
                            out.push(' ');
                        }
                        out.push_str(a);
                    }
                }
            }
            _ => out.push_str(str_value(field, ev).unwrap_or_default()),
        },
    }
}

/// `(name, type, kinds, description)` of every field, for `agentmon rules fields`.
pub(crate) fn catalogue() -> impl Iterator<Item = (&'static str, &'static str, String, &'static str)> {
    CATALOGUE
        .iter()
        .map(|f| (f.name, f.ty.name(), kinds_of(f.field).names(), f.doc))
}

#[cfg(test)]
mod tests {
    use super::{CATALOGUE, Field, KindSet, kinds_of};

    #[test]
    fn every_field_is_carried_by_some_kind() {
        for f in CATALOGUE {
            assert_ne!(kinds_of(f.field), KindSet::NONE, "no kind carries {}", f.name);
        }
        assert!(kinds_of(Field::FileWrite).contains(super::Kind::Open));
        assert!(!kinds_of(Field::FileWrite).contains(super::Kind::Exec));
        assert!(!KindSet::rules().contains(super::Kind::Fork));
    }

    #[test]
    fn docs_list_every_field() {
        let docs = include_str!("../../../docs/RULES.md");
        for f in CATALOGUE {
            assert!(
                docs.contains(&format!("`{}`", f.name)),
                "docs/RULES.md does not mention `{}`",
                f.name
            );
        }
    }
}
