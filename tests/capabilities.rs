//! Capability detection on the real kernel: `agentmon doctor` prints every capability, the
//! mechanism it chose per hook follows from them (BPF LSM where it loads, the tracepoint fallback
//! where it does not), and what the missing ones cost.
//!
//! Whether BPF LSM must be found comes from `AGENTMON_EXPECT_BPF_LSM` (`1`/`0`, set by
//! `cargo xtask test-vm` for its guests, which boot with `lsm=…,bpf`); unset, aya's own feature probe
//! decides (on the development host it is refused with EPERM, so the fallback must be chosen).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]
use agentmon_e2e::{agentmon, doctor};

/// The `yes`/`no` column of a capability's line.
fn present(table: &str, cap: &str) -> bool {
    let line = table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(cap))
        .unwrap_or_else(|| panic!("no {cap} line in:\n{table}"));
    match line.split_whitespace().nth(1) {
        Some("yes") => true,
        Some("no") => false,
        other => panic!("bad {cap} line {line:?} ({other:?})"),
    }
}

fn expect_bpf_lsm() -> bool {
    match std::env::var("AGENTMON_EXPECT_BPF_LSM").as_deref() {
        Ok("1") => true,
        Ok("0") => false,
        _ => {
            let loads =
                aya::sys::is_program_supported(aya::programs::ProgramType::Lsm(aya::programs::LsmAttachType::Mac))
                    .unwrap_or(false);
            let active = std::fs::read_to_string("/sys/kernel/security/lsm")
                .is_ok_and(|l| l.trim().split(',').any(|x| x == "bpf"));
            loads && active
        }
    }
}

#[test]
fn doctor_lists_every_capability_and_the_mechanism_follows_from_bpf_lsm() {
    let t = doctor();
    for cap in [
        "btf",
        "bpf_lsm",
        "fentry",
        "kprobes",
        "uprobes",
        "syscall_tracepoints",
        "cgroup_sock_addr",
        "landlock",
        "io_uring",
    ] {
        present(&t, cap);
    }
    let lsm = expect_bpf_lsm();
    assert_eq!(present(&t, "bpf_lsm"), lsm, "{t}");
    assert!(
        present(&t, "syscall_tracepoints") && present(&t, "cgroup_sock_addr"),
        "{t}"
    );
    let mech = |hook: &str| -> String {
        let section = t.split("mechanism per hook:").nth(1).expect("mechanism section");
        section
            .lines()
            .find(|l| l.split_whitespace().next() == Some(hook))
            .unwrap_or_default()
            .to_string()
    };
    let open = mech("open");
    if lsm {
        assert!(open.contains("lsm/file_open"), "{t}");
        assert!(!t.contains("bpf_lsm: "), "bpf_lsm present but listed as a cost:\n{t}");
    } else {
        assert!(open.contains("tracepoint"), "{t}");
        assert!(mech("exec").contains("tracepoint"), "{t}");
        // The cost says what is lost: after-the-fact deny and unreadable strings.
        let cost = t
            .lines()
            .find(|l| l.trim_start().starts_with("bpf_lsm: "))
            .expect("bpf_lsm cost");
        assert!(cost.contains("O_TRUNC") && cost.contains("unreadable"), "{cost}");
    }
    assert!(mech("connect").contains("sock_addr"), "{t}");
}

#[test]
fn the_monitor_logs_the_table_once_at_start() {
    // Probes::load probes the kernel and logs the table; nothing else logs it again.
    let dir = tempfile::tempdir().unwrap();
    let out = agentmon()
        .args(["exec", "--no-rules", "--", "/bin/true"])
        .current_dir(dir.path())
        .output()
        .expect("agentmon exec");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(err.matches("kernel capabilities:").count(), 1, "{err}");
    assert!(err.contains("mechanism per hook:"), "{err}");
}
