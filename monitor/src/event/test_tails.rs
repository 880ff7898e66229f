//! The tails of hand-built records, for the kinds' unit tests.
use monitor_common::record::{TAIL_ABSENT, Tail};

/// The tail of a hand-built record whose fixed part is `fixed` bytes: `strings` NUL
/// terminated one after the other, and the [`Tail`]s naming them (`None`: an absent tail).
pub(crate) fn tails<const N: usize>(fixed: usize, strings: [Option<&[u8]>; N]) -> ([Tail; N], Vec<u8>) {
    let mut tail = Vec::new();
    let tails = strings.map(|s| match s {
        Some(s) => {
            let off = fixed + tail.len();
            tail.extend_from_slice(s);
            tail.push(0);
            Tail {
                off: off as u16,
                len: s.len() as u16,
                flags: 0,
                _pad: 0,
            }
        }
        None => Tail {
            flags: TAIL_ABSENT,
            ..Tail::default()
        },
    });
    (tails, tail)
}
