//! Synchronous deny where the kernel allows it, checked on the kernels `cargo xtask test-vm` boots
//! (and on this host, where the fallback is expected): with BPF LSM, a denied open fails with EPERM
//! before it has any effect, so an `O_TRUNC` open of a denied file leaves its content intact and
//! the caller lives on; with the tracepoint fallback, the caller is killed at the syscall instead
//! (and the truncation may already have happened: the documented cost of a kernel without BPF LSM).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]
use agentmon_e2e::*;

#[test]
fn a_denied_truncating_open_is_refused_before_it_truncates_where_bpf_lsm_runs() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "TOP-SECRET-CONTENT").unwrap();
    let rules = rules_dir(&format!(
        "- rule: No secret writes\n  desc: test\n  condition: evt.kind = open and file.path = {}\n  output: denied %file.path\n  priority: CRITICAL\n  action: deny\n",
        secret.display()
    ));
    // `echo x >` opens with O_WRONLY|O_CREAT|O_TRUNC; then the shell goes on (if it still lives).
    // (Not `: >`: a failed redirection of a special builtin ends a POSIX shell.)
    let script = format!("echo x > {}; echo status=$? >&2; echo alive >&2", secret.display());
    let r = exec_rules(rules.path(), &[], &["/bin/sh", "-c", &script]);
    let how = mechanism("open");
    assert!(
        r.events.iter().any(|e| e["kind"] == "deny" && e["what"] == "open"),
        "kernel deny notice ({how}): {}",
        r.stderr
    );
    if how.contains("lsm/file_open") {
        assert_eq!(
            std::fs::read_to_string(&secret).unwrap(),
            "TOP-SECRET-CONTENT",
            "the denied O_TRUNC open truncated the file"
        );
        assert!(
            refused_with_eperm(&r.stderr, &secret),
            "not refused with EPERM: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("alive"),
            "the caller should live on (EPERM, no kill): {}",
            r.stderr
        );
    } else {
        assert!(how.contains("tracepoint"), "{how}");
        // After the fact: the caller is killed before the open returns.
        assert!(
            r.stderr.contains("status=137") || !r.stderr.contains("alive"),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn a_denied_read_open_returns_eperm_and_reads_nothing_where_bpf_lsm_runs() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "TOP-SECRET-CONTENT").unwrap();
    let rules = rules_dir(&format!(
        "- rule: No secret\n  desc: test\n  condition: evt.kind = open and file.path = {}\n  output: denied %file.path\n  priority: CRITICAL\n  action: deny\n",
        secret.display()
    ));
    let script = format!("cat {} >&2; echo status=$? >&2", secret.display());
    let r = exec_rules(rules.path(), &[], &["/bin/sh", "-c", &script]);
    assert!(!r.stderr.contains("TOP-SECRET"), "{}", r.stderr);
    if mechanism("open").contains("lsm/file_open") {
        assert!(refused_with_eperm(&r.stderr, &secret), "{}", r.stderr);
        // The whole line: "status=1" is also the start of "status=137".
        assert!(
            r.stderr.lines().any(|l| l == "status=1"),
            "cat fails, is not killed: {}",
            r.stderr
        );
    } else {
        assert!(r.stderr.lines().any(|l| l == "status=137"), "{}", r.stderr);
    }
}
