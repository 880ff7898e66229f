//! The kernel deny tables: what `action: deny` rules compile to ([`spec`]) and how those specs are
//! loaded into the eBPF maps ([`tables`]).
pub(crate) mod spec;
pub(crate) mod tables;
