//! The benign corpus: realistic sessions of a coding agent and of an OpenClaw-style assistant, run
//! on the real kernel under the shipped rules (`agentmon exec --rules rules/`). None may raise an
//! alert at ERROR or above; the lower ones that fire are the ones their rules' `desc` says a reader
//! would want to see (a tool-use shell, code the agent wrote then ran, an inline one-liner). The
//! per-session counts are printed (and recorded in docs/COVERAGE.md, "Benign corpus").
//!
//! Workspaces live under the build's target directory, or under /var/lib when the checkout itself
//! sits in /tmp: running a program from a world-writable directory is itself an ERROR ("Exec from
//! writable location"), and a real coding agent's repository is not there.
#![allow(
    clippy::unwrap_used,
    clippy::print_stderr,
    clippy::use_debug,
    reason = "test code outside #[test] fns: a failed step fails the test; the counts are the corpus' figure"
)]
use std::path::{Path, PathBuf};

use agentmon_e2e::*;

const SEVERE: &[&str] = &["emergency", "alert", "critical", "error"];

/// The items of the shipped `writable_dirs` list (rules/00-lists.yaml, `items: [a, b]` on the line
/// after its name): a workspace must not be under one of these.
fn writable_dirs() -> Vec<String> {
    let lists = shipped_rules().join("00-lists.yaml");
    let text = std::fs::read_to_string(&lists).unwrap();
    let mut lines = text.lines().skip_while(|l| l.trim() != "- list: writable_dirs");
    let items = lines.nth(1).unwrap();
    let items = items
        .trim()
        .strip_prefix("items: [")
        .unwrap()
        .strip_suffix(']')
        .unwrap();
    items.split(',').map(|d| d.trim().to_string()).collect()
}

/// A directory for one session, outside the world-writable directories (removed on drop).
fn workspace(tag: &str) -> tempfile::TempDir {
    let in_target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/benign");
    std::fs::create_dir_all(&in_target).unwrap();
    let in_target = in_target.canonicalize().unwrap();
    let writable = writable_dirs()
        .iter()
        .any(|d| in_target.starts_with(d.trim_end_matches('/')));
    let base = if writable {
        PathBuf::from("/var/lib/agentmon-tests/benign")
    } else {
        in_target
    };
    std::fs::create_dir_all(&base).unwrap();
    tempfile::Builder::new().prefix(tag).tempdir_in(base).unwrap()
}

/// Serves `n` HTTP requests on 127.0.0.1 with a small JSON body; returns the port.
fn local_api(n: usize) -> u16 {
    serve_http(
        n,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}"
            .into(),
    )
}

/// Runs `script` with bash as the agent (HOME set to `home`) and checks the session: it succeeded,
/// its events were seen, no severe alert. Returns the alerts by rule.
fn session(name: &str, home: &Path, cmd: &[&str], min_execs: usize) -> (Vec<(String, String)>, ExecRun) {
    let home_env = format!("HOME={}", home.display());
    let mut full = vec!["/usr/bin/env", home_env.as_str()];
    full.extend_from_slice(cmd);
    let r = exec_rules(&shipped_rules(), &[], &full);
    assert!(r.status.success(), "{name}: the session failed: {}", r.stderr);
    let execs = r.of_kind("exec").len();
    assert!(
        execs >= min_execs,
        "{name}: only {execs} execs seen (the test would be vacuous)"
    );
    let alerts: Vec<(String, String)> = r
        .alerts()
        .iter()
        .map(|a| {
            (
                a["priority"].as_str().unwrap_or("").to_string(),
                a["rule"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let severe: Vec<_> = r
        .alerts()
        .into_iter()
        .filter(|a| SEVERE.contains(&a["priority"].as_str().unwrap_or("")))
        .collect();
    assert!(
        severe.is_empty(),
        "{name}: alerts at ERROR or above on benign work: {severe:#?}"
    );
    let mut by_rule: Vec<String> = alerts.iter().map(|(p, r)| format!("{p} {r}")).collect();
    by_rule.sort();
    let mut counted: Vec<(String, usize)> = Vec::new();
    for r in by_rule {
        match counted.last_mut() {
            Some((last, n)) if *last == r => *n += 1,
            _ => counted.push((r, 1)),
        }
    }
    eprintln!(
        "benign session `{name}`: {execs} execs, {} alerts: {counted:?}",
        alerts.len()
    );
    (alerts, r)
}

#[test]
fn coding_agent_session_raises_nothing_severe() {
    let ws = workspace("coder-");
    let home = ws.path().join("home");
    let repo = ws.path().join("repo");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&repo).unwrap();
    let port = local_api(2);
    let tools = ["grep", "find", "sed", "tar", "sqlite3", "gcc"]
        .iter()
        .filter(|t| Path::new("/usr/bin").join(t).exists())
        .count();
    assert!(tools >= 5, "the corpus needs the usual tools");
    let script = format!(
        r#"set -e
cd {repo}
git init -q .
git config user.email agent@example.invalid
git config user.name agent
cat > hello.c <<'C'
#include <stdio.h>
int add(int a, int b) {{ return a + b; }}
int main(void) {{ printf("%d\n", add(2, 3)); return 0; }}
C
gcc -O1 -o hello hello.c
./hello > out.txt
grep -q 5 out.txt
mkdir -p tests
cat > tests/test_calc.py <<'P'
import unittest
class T(unittest.TestCase):
    def test_add(self):
        self.assertEqual(2 + 3, 5)
P
/usr/bin/python3 -m unittest discover -s tests -q 2>/dev/null
cat > build.sh <<'S'
#!/bin/sh
echo building
ls -1 | wc -l
S
chmod +x build.sh
./build.sh > /dev/null
/usr/bin/python3 -m venv --without-pip .venv
.venv/bin/python --version > /dev/null
/usr/bin/python3 -m pip --version > /dev/null || true
grep -rn add hello.c > /dev/null
find . -name '*.c' -newer .git > /dev/null
sed -i 's/add/sum/g' hello.c
tar czf ../src.tgz hello.c tests
sqlite3 notes.db "create table t(x); insert into t values (1); select count(*) from t;" > /dev/null
curl -s http://127.0.0.1:{port}/api/status > api.json
curl -s -X POST -d '{{"q":1}}' http://127.0.0.1:{port}/api/run > /dev/null
git add -A
git commit -q -m "add calculator"
git log --oneline > /dev/null
"#,
        repo = repo.display()
    );
    let (alerts, _) = session("coding agent", &home, &["/bin/bash", "-c", &script], 20);
    // The shell script the agent wrote and ran is worth a look (WARNING), nothing more.
    assert!(alerts.iter().all(|(p, _)| !SEVERE.contains(&p.as_str())));
}

#[test]
fn openclaw_style_assistant_session_raises_nothing_severe() {
    let ws = workspace("claw-");
    let home = ws.path().join("home");
    let claw = home.join(".openclaw");
    for d in [
        "skills/weather",
        "skills/notes",
        "memory",
        "logs",
        "credentials",
        "workspace",
    ] {
        std::fs::create_dir_all(claw.join(d)).unwrap();
    }
    std::fs::write(
        claw.join("openclaw.json"),
        r#"{"model":"local","skills":["weather","notes"]}"#,
    )
    .unwrap();
    std::fs::write(claw.join("credentials/provider.json"), r#"{"api_key":"sk-test"}"#).unwrap();
    std::fs::write(claw.join("skills/weather/SKILL.md"), "# weather\nRun run.sh CITY\n").unwrap();
    std::fs::write(claw.join("skills/weather/run.sh"), "#!/bin/sh\necho \"sunny in $1\"\n").unwrap();
    std::fs::write(claw.join("skills/notes/SKILL.md"), "# notes\nRun notes.py TEXT\n").unwrap();
    std::fs::write(
        claw.join("skills/notes/notes.py"),
        "import sys, pathlib\np = pathlib.Path.home() / '.openclaw/workspace/notes.md'\np.write_text(p.read_text() + sys.argv[1] + '\\n' if p.exists() else sys.argv[1] + '\\n')\n",
    )
    .unwrap();
    let port = local_api(1);
    // The assistant: reads its config, its key and its skills, keeps memory and a log, runs its
    // skills' scripts and calls a local model API.
    let agent = format!(
        r#"
import json, os, pathlib, subprocess, urllib.request, time
home = pathlib.Path.home() / ".openclaw"
cfg = json.loads((home / "openclaw.json").read_text())
key = json.loads((home / "credentials/provider.json").read_text())["api_key"]
skills = {{s: (home / "skills" / s / "SKILL.md").read_text() for s in cfg["skills"]}}
log = open(home / "logs/session.log", "a")
with urllib.request.urlopen("http://127.0.0.1:{port}/v1/chat") as r:
    reply = r.read()
log.write("model replied %d bytes\n" % len(reply))
out = subprocess.run(["/bin/sh", str(home / "skills/weather/run.sh"), "Paris"], capture_output=True, text=True).stdout
subprocess.run(["/usr/bin/python3", str(home / "skills/notes/notes.py"), out.strip()], check=True)
(home / "memory" / time.strftime("%Y-%m-%d.md")).write_text("user asked for the weather: " + out)
log.write("done\n")
log.close()
"#
    );
    let script = ws.path().join("assistant.py");
    std::fs::write(&script, agent).unwrap();
    let s = script.to_string_lossy().into_owned();
    let (alerts, run) = session("OpenClaw-style assistant", &home, &["/usr/bin/python3", &s], 2);
    assert!(
        run.of_kind("open").iter().any(|e| e["resolved_path"]
            .as_str()
            .is_some_and(|p| p.ends_with("credentials/provider.json"))),
        "the key read was not seen (the check below would be vacuous)"
    );
    // Its own key, read by the agent's root process, is not "read by a tool process".
    assert!(
        alerts.iter().all(|(_, r)| r != "Agent secret read by a tool process"),
        "the assistant reading its own key alerted: {alerts:?}"
    );
}
