//! Integrity check of logs (`agentmon log verify`): every frame's checksums, the sequence and the
//! hash chain within each file, the record ids (a gap is an error, whether or not a `Lost` record
//! explains it: the log is missing records), the trailer's counts, and the links between rotated
//! files.
//!
//! Payloads other than header and trailer are not decoded (a batch only into its entries, to count
//! them): checksums and chain already prove they are the bytes the recorder wrote.
use std::path::{Path, PathBuf};

use prost::Message;

use super::{
    batch::Entry,
    format::{ChainHash, EntryKind, FrameError, FrameKind, Problem},
    proto,
    reader::{FrameReader, ReaderOptions},
    writer::rotated_path,
};

/// Problems kept per file (the count goes on).
const MAX_KEPT: usize = 100;

#[derive(Clone, Debug, Default)]
pub struct FileReport {
    pub(crate) path: PathBuf,
    pub(crate) header: Option<proto::LogHeader>,
    pub trailer: Option<proto::Trailer>,
    pub(crate) frames: u64,
    pub events: u64,
    pub(crate) alerts: u64,
    pub(crate) drops: u64,
    /// Records missing where ids jump (those a `Lost` record accounts for included).
    pub(crate) lost: u64,
    /// Id of the first and last records (batch entries) read.
    pub(crate) first_id: Option<u64>,
    pub(crate) last_id: Option<u64>,
    /// Sequence number of the first and last intact frames.
    pub(crate) first_seq: Option<u64>,
    pub(crate) last_seq: Option<u64>,
    pub(crate) last_chain: ChainHash,
    /// Damage and tampering, in file order (at most [`MAX_KEPT`]; see `error_count`).
    pub errors: Vec<FrameError>,
    pub(crate) error_count: u64,
    /// The file ends inside a frame (all frames before it are intact).
    pub truncated: Option<FrameError>,
}

impl FileReport {
    /// No damage, no tampering (it may still be incomplete).
    pub fn intact(&self) -> bool {
        self.error_count == 0
    }

    /// Closed or rotated cleanly: a trailer, nothing cut off.
    pub(crate) fn complete(&self) -> bool {
        self.trailer.is_some() && self.truncated.is_none()
    }

    /// The first problem, by byte offset.
    #[cfg(test)]
    pub(crate) fn first_problem(&self) -> Option<&FrameError> {
        self.errors.first().or(self.truncated.as_ref())
    }

    fn error(&mut self, e: FrameError) {
        self.error_count += 1;
        if self.errors.len() < MAX_KEPT {
            self.errors.push(e);
        }
    }
}

/// Verifies one file on its own. `progress` is called with the bytes read so far.
pub fn verify_file(path: &Path, progress: impl FnMut(u64)) -> FileReport {
    verify_file_after(path, None, progress)
}

/// [`verify_file`] for a file that may continue another one whose last record id was
/// `prev_last_id`: if it is a rotated continuation, its first record id must follow that one.
fn verify_file_after(path: &Path, prev_last_id: Option<u64>, mut progress: impl FnMut(u64)) -> FileReport {
    let mut rep = FileReport {
        path: path.to_path_buf(),
        ..Default::default()
    };
    let mut r = match FrameReader::open(
        path,
        ReaderOptions {
            resync: true,
            ..Default::default()
        },
    ) {
        Ok(r) => r,
        Err(e) => {
            rep.error(FrameError {
                offset: 0,
                problem: Problem::Io(e.to_string()),
            });
            return rep;
        }
    };
    let mut trailer_offset = None;
    let mut ids = IdCheck::default();
    let mut continuation_checked = false;
    let mut first_file = false;
    while let Some(item) = r.next_frame() {
        let f = match item {
            Ok(f) => f,
            Err(e) if e.is_truncation() => {
                rep.truncated = Some(e);
                continue;
            }
            Err(e) => {
                // Damage: the records of the frames lost with it are not a gap of their own.
                ids.expect = None;
                rep.error(e);
                continue;
            }
        };
        if rep.frames.is_multiple_of(65_536) {
            progress(f.offset);
        }
        rep.frames += 1;
        rep.first_seq.get_or_insert(f.header.seq);
        rep.last_seq = Some(f.header.seq);
        rep.last_chain = f.header.chain;
        match f.header.kind {
            FrameKind::Header => {
                first_file = proto::LogHeader::decode(f.payload).is_ok_and(|h| h.file_index == 0);
            }
            FrameKind::Batch => {
                for entry in f.entries() {
                    let e = match entry {
                        Ok(e) => e,
                        Err(e) => {
                            ids.expect = None;
                            rep.error(e);
                            continue;
                        }
                    };
                    if !continuation_checked {
                        continuation_checked = true;
                        if !first_file && let Some(last) = prev_last_id {
                            ids.expect = Some(last.wrapping_add(1));
                        }
                    }
                    if let Some(problem) = ids.next(&e, first_file) {
                        if let Problem::RecordsMissing { first, last, .. } = problem {
                            rep.lost += last - first + 1;
                        }
                        rep.error(FrameError {
                            offset: e.offset,
                            problem,
                        });
                    }
                    rep.first_id.get_or_insert(e.id);
                    rep.last_id = Some(e.id);
                    match e.kind {
                        EntryKind::Event => rep.events += 1,
                        EntryKind::Alert => rep.alerts += 1,
                        EntryKind::Drops => rep.drops += 1,
                        EntryKind::Context | EntryKind::Lost => {}
                    }
                }
            }
            FrameKind::Trailer => match proto::Trailer::decode(f.payload) {
                Ok(t) => {
                    trailer_offset = Some(f.offset);
                    rep.trailer = Some(t);
                }
                Err(e) => rep.error(FrameError {
                    offset: f.offset,
                    problem: Problem::Payload {
                        kind: "trailer",
                        reason: e.to_string(),
                    },
                }),
            },
        }
    }
    rep.header = r.log_header().cloned();
    // Checked only when the frames themselves are fine (otherwise the counts differ anyway).
    if let (Some(t), Some(offset)) = (&rep.trailer, trailer_offset)
        && rep.error_count == 0
        && (t.frames, t.events, t.alerts) != (rep.frames, rep.events, rep.alerts)
    {
        let msg = format!(
            "trailer counts {} frames, {} events, {} alerts; the file holds {}, {}, {}",
            t.frames, t.events, t.alerts, rep.frames, rep.events, rep.alerts
        );
        rep.error(FrameError {
            offset,
            problem: Problem::Payload {
                kind: "trailer",
                reason: msg,
            },
        });
    }
    if let (Some(t), Some(offset)) = (&rep.trailer, trailer_offset)
        && t.lost > rep.lost
    {
        let msg = format!(
            "the trailer counts {} records the recorder could not write while this file was written; {} of them are gaps in this file",
            t.lost, rep.lost
        );
        rep.error(FrameError {
            offset,
            problem: Problem::Payload {
                kind: "trailer",
                reason: msg,
            },
        });
    }
    rep.errors.sort_by_key(|e| e.offset);
    progress(r.position());
    rep
}

/// Record ids within a file: each entry's id is one more than the one before (and 1 for the first
/// record of a log). After damage the next id is taken as it comes.
#[derive(Default)]
struct IdCheck {
    expect: Option<u64>,
    seen: bool,
}

impl IdCheck {
    /// What is wrong before entry `e`, if anything: missing ids (explained when `e` is the `Lost`
    /// record of exactly those), or ids that go backwards.
    fn next(&mut self, e: &Entry<'_>, first_file: bool) -> Option<Problem> {
        let expect = match self.expect {
            Some(x) => Some(x),
            None if !self.seen && first_file => Some(1),
            None => None,
        };
        self.seen = true;
        self.expect = Some(e.id.wrapping_add(1));
        let expect = expect?;
        if e.id == expect {
            return None;
        }
        if e.id < expect {
            return Some(Problem::Payload {
                kind: "batch",
                reason: format!(
                    "record id {} where {expect} was expected: ids go backwards (records repeated or reordered)",
                    e.id
                ),
            });
        }
        let (first, last) = (expect, e.id - 1);
        let why = (e.kind == EntryKind::Lost)
            .then(|| proto::Lost::decode(e.payload).ok())
            .flatten()
            .filter(|l| (l.first_id, l.last_id) == (first, last))
            .map(|l| format!("{} events, {} alerts: {}", l.events, l.alerts, l.error));
        Some(Problem::RecordsMissing { first, last, why })
    }
}

/// A broken link between two consecutive files of a rotated log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LinkError {
    pub file: PathBuf,
    pub problem: String,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Report {
    pub files: Vec<FileReport>,
    pub links: Vec<LinkError>,
}

impl Report {
    pub(crate) fn intact(&self) -> bool {
        self.links.is_empty() && self.files.iter().all(FileReport::intact)
    }

    pub(crate) fn complete(&self) -> bool {
        self.files.iter().all(FileReport::complete)
    }
}

/// Verifies files in the order given; where a file continues the one before it (rotation), checks
/// the link: trailer names it, header names the previous file, chain and sequence continue.
pub(crate) fn verify_files(paths: &[PathBuf], mut progress: impl FnMut(u64)) -> Report {
    let mut report = Report::default();
    let mut done = 0u64;
    for path in paths {
        let prev_last_id = report.files.last().and_then(|f| f.last_id);
        let rep = verify_file_after(path, prev_last_id, |b| progress(done + b));
        done += std::fs::metadata(path).map_or(0, |m| m.len());
        if let Some(prev) = report.files.last()
            && let Some(problem) = link_problem(prev, &rep)
        {
            report.links.push(LinkError {
                file: path.clone(),
                problem,
            });
        }
        report.files.push(rep);
    }
    report
}

fn link_problem(prev: &FileReport, next: &FileReport) -> Option<String> {
    let h = next.header.as_ref()?;
    if h.file_index == 0 {
        return None; // a new log, not a continuation
    }
    let rotated = prev
        .trailer
        .as_ref()
        .is_some_and(|t| t.reason == proto::trailer::Reason::Rotated as i32);
    let names_next = prev.trailer.as_ref().map(|t| t.next_file.as_str());
    let next_name = base(&next.path);
    let prev_name = base(&prev.path);
    if !rotated {
        return Some(format!(
            "continues {} (file {}), but {} did not end by rotating",
            h.prev_file,
            h.file_index,
            prev.path.display()
        ));
    }
    if h.prev_file != prev_name || names_next != Some(next_name.as_str()) {
        return Some(format!(
            "{} continues {:?}, and {} says its continuation is {:?}",
            next_name,
            h.prev_file,
            prev_name,
            names_next.unwrap_or("")
        ));
    }
    if h.prev_chain_hash.as_slice() != prev.last_chain {
        return Some(format!("hash chain not continued from the last frame of {prev_name}"));
    }
    if let (Some(last), Some(first)) = (prev.last_seq, next.first_seq)
        && first != last.wrapping_add(1)
    {
        return Some(format!("sequence jumps from {last} in {prev_name} to {first}"));
    }
    None
}

fn base(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `FILE` and its existing continuations `FILE.1`, `FILE.2`, … in order.
pub(crate) fn with_rotations(base: &Path) -> Vec<PathBuf> {
    let mut out = vec![base.to_path_buf()];
    for i in 1.. {
        let p = rotated_path(base, i);
        if !p.exists() {
            break;
        }
        out.push(p);
    }
    out
}

/// Each path followed by its rotated continuations (unless listed already), duplicates removed:
/// `log verify FILE` checks the whole rotated log, and `FILE FILE.*` (where `FILE.10` sorts before
/// `FILE.2`) still comes out in order.
pub(crate) fn expand_rotations(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for p in paths {
        for q in with_rotations(p) {
            if !out.contains(&q) {
                out.push(q);
            }
        }
    }
    out
}
