//! Least-privilege profiles: what an agent did while `agentmon learn` watched it, as YAML an
//! operator reviews and edits; enforced by `agentmon exec --sandbox` (`crate::sandbox`) and
//! exported for containers and for rules (`export`). Reference: `docs/SANDBOX.md`.
pub(crate) mod syscalls;
