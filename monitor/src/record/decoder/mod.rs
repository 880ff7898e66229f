//! Replay's hot path: event entries decoded into one reused [`Enriched`].
//!
//! An event entry is small (its process fields are in a context record), so what remains is to avoid
//! rebuilding the process fields for every event: they are copied into the reused event only
//! when the event refers to another context than the one before; the time stays a number until
//! someone prints it.
use prost::Message;

use super::{
    ConvertError,
    context::{ContextTable, Defined},
    convert,
    format::FrameError,
    proto,
    wire::{LEN, VARINT, Wire, zigzag32, zigzag64},
};
use crate::{
    enrich::{AgentFacts, Enriched, WallTime},
    event::{Body, ConnectInfo, ExitInfo, Family, ForkInfo, OpenInfo},
};

/// Decodes the event entries of one log file (call [`EventDecoder::reset`] between files and after
/// damage).
#[derive(Default)]
pub struct EventDecoder {
    contexts: ContextTable,
    cur: Current,
}

/// The last decoded event.
struct Current {
    ev: Enriched,
    /// Generation of the context whose fields `ev` holds (0: none).
    context: u64,
}

impl Default for Current {
    fn default() -> Self {
        Self {
            ev: Enriched::empty(),
            context: 0,
        }
    }
}

/// An event's own header fields and time, as both decoding paths read them.
struct Own {
    ktime_ns: u64,
    tid: u32,
    flags: [bool; 3],
    time_unix_ns: i64,
    time_adjust_ns: i64,
}

impl Current {
    /// What both paths do once body and resolved path are in place: the event's own header fields,
    /// its time and its context's process fields (copied
    /// only when the context differs from the previous event's).
    fn finish(&mut self, defined: &Defined, own: Own) {
        let ns = if own.time_unix_ns != 0 {
            i128::from(own.time_unix_ns)
        } else {
            i128::from(own.ktime_ns) + i128::from(defined.ctx.wall_offset_ns) + i128::from(own.time_adjust_ns)
        };
        self.ev.time = WallTime::from_unix_ns(i64::try_from(ns).unwrap_or(0));
        if self.context != defined.generation {
            convert::fill_context(&mut self.ev, &defined.ctx);
            self.context = defined.generation;
        }
        let eh = &mut self.ev.event.header;
        (eh.ktime_ns, eh.tid) = (own.ktime_ns, own.tid);
        (eh.truncated, eh.read_failed, eh.denied) = (own.flags[0], own.flags[1], own.flags[2]);
    }
}

impl EventDecoder {
    /// After a reading problem: forgets the defined contexts if the damage may have hit one.
    pub(crate) fn after_damage(&mut self, e: &FrameError) {
        self.contexts.after_damage(e);
    }

    /// A Context entry's payload.
    pub fn define_context(&mut self, payload: &[u8]) -> Result<(), String> {
        let c = proto::Context::decode(payload).map_err(|e| e.to_string())?;
        self.contexts.define(c).map_err(|e| e.to_string())
    }

    /// An Event entry's payload; the event is then [`EventDecoder::event`].
    pub fn decode(&mut self, payload: &[u8]) -> Result<(), String> {
        if self.decode_in_place(payload).is_some() {
            return Ok(());
        }
        let p = proto::Event::decode(payload).map_err(|e| e.to_string())?;
        self.decode_proto(p).map_err(|e| e.to_string())
    }

    /// The fast path for the usual shape of an event (each field at most once, a context, a common
    /// body kind): fields are read from the payload into the reused event, without
    /// allocating. `None` for anything else, including every error: [`EventDecoder::decode`] then
    /// decodes with prost, the reference (a property test checks that both agree).
    fn decode_in_place(&mut self, payload: &[u8]) -> Option<()> {
        let mut w = Wire::new(payload);
        let (mut time_unix_ns, mut context, mut resolved_is_raw, mut time_adjust_ns) = (0i64, 0u32, false, 0i64);
        let (mut header, mut resolved, mut facts, mut body) = (None, None, None, None);
        let mut seen = 0u32;
        // The fields in the order the writer emits them (see `Wire::take`); then anything else.
        if w.take(1, VARINT) {
            time_unix_ns = w.varint()? as i64;
            seen |= 1 << 1;
        }
        if w.take(3, LEN) {
            header = Some(w.bytes()?);
            seen |= 1 << 3;
        }
        if w.take(5, LEN) {
            resolved = Some(w.str()?);
            seen |= 1 << 5;
        }
        if w.take(6, VARINT) {
            context = w.varint()? as u32;
            seen |= 1 << 6;
        }
        if w.take(7, VARINT) {
            resolved_is_raw = w.varint()? != 0;
            seen |= 1 << 7;
        }
        if w.take(8, VARINT) {
            time_adjust_ns = zigzag64(w.varint()?);
            seen |= 1 << 8;
        }
        if w.take(9, LEN) {
            facts = Some(w.bytes()?);
            seen |= 1 << 9;
        }
        for field in [10, 11, 12, 14, 15] {
            if w.take(field, LEN) {
                body = Some((field, w.bytes()?));
                seen |= 1 << field;
                break;
            }
        }
        while !w.done() {
            let (field, wt) = w.key()?;
            if field < 32 {
                if seen & (1 << field) != 0 {
                    return None;
                }
                seen |= 1 << field;
            }
            match field {
                1 => time_unix_ns = w.varint_field(wt)? as i64,
                3 => header = Some(w.len_field(wt)?),
                5 => resolved = Some(w.str_field(wt)?),
                6 => context = w.varint_field(wt)? as u32,
                7 => resolved_is_raw = w.varint_field(wt)? != 0,
                8 => time_adjust_ns = zigzag64(w.varint_field(wt)?),
                9 => facts = Some(w.len_field(wt)?),
                // Inline process fields (only embedded events have them), rarer bodies: the general
                // path.
                4 | 13 | 16 | 17 => return None,
                10..=15 => {
                    if body.is_some() {
                        return None;
                    }
                    body = Some((field, w.len_field(wt)?));
                }
                _ => w.skip(wt)?,
            }
        }
        if context == 0 {
            return None;
        }
        let (body_field, body_bytes) = body?;
        let defined = self.contexts.get(context).ok()?;
        // Header: ktime, tid and the flags; the process fields come from the context.
        let mut hw = Wire::new(header?);
        let (mut ktime_ns, mut tid, mut flags) = (0u64, 0u32, [false; 3]);
        if hw.take(1, VARINT) {
            ktime_ns = hw.varint()?;
        }
        if hw.take(3, VARINT) {
            tid = hw.varint()? as u32;
        }
        while !hw.done() {
            let (field, wt) = hw.key()?;
            match field {
                1 => ktime_ns = hw.varint_field(wt)?,
                3 => tid = hw.varint_field(wt)? as u32,
                9..=11 => flags[field as usize - 9] = hw.varint_field(wt)? != 0,
                2 | 4..=7 => drop(hw.varint_field(wt)?),
                8 => drop(hw.str_field(wt)?),
                _ => hw.skip(wt)?,
            }
        }
        if !read_body(&mut self.cur.ev.event.body, body_field, body_bytes) {
            return None;
        }
        read_facts(&mut self.cur.ev.facts, facts)?;
        let Enriched {
            event, resolved_path, ..
        } = &mut self.cur.ev;
        match (resolved, resolved_is_raw) {
            (Some(r), _) => set_opt(resolved_path, r),
            (None, true) => set_opt(resolved_path, convert::raw_path(&event.body)?),
            (None, false) => *resolved_path = None,
        }
        self.cur.finish(
            defined,
            Own {
                ktime_ns,
                tid,
                flags,
                time_unix_ns,
                time_adjust_ns,
            },
        );
        Some(())
    }

    fn decode_proto(&mut self, p: proto::Event) -> Result<(), ConvertError> {
        if p.context == 0 {
            return Err(ConvertError::Missing("process context"));
        }
        let defined = self.contexts.get(p.context)?;
        let h = p.header.ok_or(ConvertError::Missing("event header"))?;
        let body = convert::body_from_proto(p.body.ok_or(ConvertError::Missing("event body"))?)?;
        self.cur.finish(
            defined,
            Own {
                ktime_ns: h.ktime_ns,
                tid: h.tid,
                flags: [h.truncated, h.read_failed, h.denied],
                time_unix_ns: p.time_unix_ns,
                time_adjust_ns: p.time_adjust_ns,
            },
        );
        self.cur.ev.event.body = body;
        self.cur.ev.facts = convert::facts_from_proto(p.facts);
        match (p.resolved_path, p.resolved_is_raw) {
            (Some(r), _) => self.cur.ev.resolved_path = Some(r),
            (None, true) => {
                let raw = convert::raw_path(&self.cur.ev.event.body)
                    .ok_or(ConvertError::Missing("path for resolved_is_raw"))?
                    .to_owned();
                self.cur.ev.resolved_path = Some(raw);
            }
            (None, false) => self.cur.ev.resolved_path = None,
        }
        Ok(())
    }

    /// The last decoded event.
    pub fn event(&self) -> &Enriched {
        &self.cur.ev
    }

    /// The last decoded event's wall-clock time, ns since the epoch.
    pub(crate) fn time_ns(&self) -> i64 {
        self.cur.ev.time.unix_ns()
    }
}

fn set_str(s: &mut String, v: &str) {
    s.clear();
    s.push_str(v);
}

/// An `AgentFacts` message into the reused facts (cleared when absent).
fn read_facts(f: &mut AgentFacts, bytes: Option<&[u8]>) -> Option<()> {
    f.agent_root = false;
    f.dst_agent.clear();
    let Some(bytes) = bytes else {
        return Some(());
    };
    let mut w = Wire::new(bytes);
    while !w.done() {
        let (field, wt) = w.key()?;
        match field {
            1 => f.agent_root = w.varint_field(wt)? != 0,
            2 => set_str(&mut f.dst_agent, w.str_field(wt)?),
            _ => w.skip(wt)?,
        }
    }
    Some(())
}

fn set_opt(s: &mut Option<String>, v: &str) {
    match s {
        Some(s) => set_str(s, v),
        None => *s = Some(v.to_owned()),
    }
}

/// Reads a body sub-message (field number of the `oneof`) into `body`, reusing its buffers when it
/// already is of that kind. False for anything [`convert::body_from_proto`] would not accept the same
/// way (the caller then takes the general path).
fn read_body(body: &mut Body, field: u32, bytes: &[u8]) -> bool {
    read_body_opt(body, field, bytes).is_some()
}

fn read_body_opt(body: &mut Body, field: u32, bytes: &[u8]) -> Option<()> {
    let mut w = Wire::new(bytes);
    match field {
        11 => {
            if !matches!(body, Body::Open(_)) {
                *body = Body::Open(OpenInfo {
                    path: String::new(),
                    flags: 0,
                    mode: 0,
                    dfd: 0,
                    syscall: "openat",
                    result: 0,
                    kernel_path: None,
                    dir_path: None,
                });
            }
            let Body::Open(o) = body else { return None };
            let (mut path, mut flags, mut mode, mut dfd, mut syscall) = ("", 0, 0, 0, 0);
            let (mut result, mut kernel_path, mut dir_path) = (0, None, None);
            if w.take(1, LEN) {
                path = w.str()?;
            }
            if w.take(2, VARINT) {
                flags = w.varint()? as u32;
            }
            if w.take(3, VARINT) {
                mode = w.varint()? as u32;
            }
            if w.take(5, VARINT) {
                syscall = w.varint()? as i32;
            }
            if w.take(6, VARINT) {
                dfd = zigzag32(w.varint()?);
            }
            if w.take(7, VARINT) {
                result = zigzag64(w.varint()?);
            }
            if w.take(8, LEN) {
                kernel_path = Some(w.str()?);
            }
            while !w.done() {
                let (f, wt) = w.key()?;
                match f {
                    1 => path = w.str_field(wt)?,
                    2 => flags = w.varint_field(wt)? as u32,
                    3 => mode = w.varint_field(wt)? as u32,
                    5 => syscall = w.varint_field(wt)? as i32,
                    6 => dfd = zigzag32(w.varint_field(wt)?),
                    7 => result = zigzag64(w.varint_field(wt)?),
                    8 => kernel_path = Some(w.str_field(wt)?),
                    9 => dir_path = Some(w.str_field(wt)?),
                    _ => w.skip(wt)?,
                }
            }
            o.syscall = crate::event::open_syscall_name(syscall)?;
            set_str(&mut o.path, path);
            (o.flags, o.mode, o.dfd, o.result) = (flags, mode, dfd, result);
            match kernel_path {
                Some(k) => set_opt(&mut o.kernel_path, k),
                None => o.kernel_path = None,
            }
            match dir_path {
                Some(d) => set_opt(&mut o.dir_path, d),
                None => o.dir_path = None,
            }
        }
        12 => {
            let (mut family, mut addr, mut port, mut fd) = (0, "", 0u64, 0);
            let (mut raw_addr, mut sock_type, mut protocol, mut verdict, mut rule_id, mut result) =
                (None, 0u64, 0u64, 0, None, None);
            while !w.done() {
                let (f, wt) = w.key()?;
                match f {
                    1 => family = w.varint_field(wt)? as i32,
                    2 => addr = w.str_field(wt)?,
                    3 => port = u64::from(w.varint_field(wt)? as u32),
                    4 => fd = w.varint_field(wt)? as i32,
                    // network
                    5 => raw_addr = Some(w.str_field(wt)?),
                    6 => sock_type = u64::from(w.varint_field(wt)? as u32),
                    7 => protocol = u64::from(w.varint_field(wt)? as u32),
                    8 => verdict = w.varint_field(wt)? as i32,
                    9 => rule_id = Some(w.varint_field(wt)? as u32),
                    10 => result = Some(zigzag64(w.varint_field(wt)?)),
                    _ => w.skip(wt)?,
                }
            }
            let family = Family::from_proto(family).ok()?;
            let port = u16::try_from(port).ok()?;
            let sock_type = u16::try_from(sock_type).ok()?;
            let protocol = u16::try_from(protocol).ok()?;
            let verdict = crate::event::Verdict::from_proto(verdict).ok()?;
            if !matches!(body, Body::Connect(_)) {
                *body = Body::Connect(ConnectInfo::new(family, "", 0));
            }
            let Body::Connect(c) = body else { return None };
            set_str(&mut c.dest.addr, addr);
            match raw_addr {
                Some(r) => set_opt(&mut c.dest.raw_addr, r),
                None => c.dest.raw_addr = None,
            }
            (c.dest.family, c.dest.port, c.fd, c.dest.sock_type, c.dest.protocol) =
                (family, port, fd, sock_type, protocol);
            (c.dest.verdict, c.dest.rule_id, c.result) = (verdict, rule_id, result);
        }
        14 => {
            let mut child_pid = 0;
            while !w.done() {
                let (f, wt) = w.key()?;
                match f {
                    1 => child_pid = w.varint_field(wt)? as u32,
                    _ => w.skip(wt)?,
                }
            }
            *body = Body::Fork(ForkInfo { child_pid });
        }
        15 => {
            let (mut exit_code, mut signal) = (None, None);
            while !w.done() {
                let (f, wt) = w.key()?;
                match f {
                    1 => exit_code = Some(w.varint_field(wt)? as i32),
                    2 => signal = Some(w.varint_field(wt)? as i32),
                    _ => w.skip(wt)?,
                }
            }
            *body = Body::Exit(ExitInfo { exit_code, signal });
        }
        _ => return None,
    }
    Some(())
}

#[cfg(test)]
mod tests;
