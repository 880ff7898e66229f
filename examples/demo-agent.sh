#!/bin/bash
# A pretend AI agent that has been talked into misbehaving. Everything it does is harmless and stays
# on this machine: a throw-away HOME with fake credentials, loopback only, a private mount namespace.
set -u
work=$(mktemp -d /tmp/agentmon-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
export HOME="$work/home"
mkdir -p "$HOME/.aws" "$HOME/.ssh" "$work/agent"
echo "[default]
aws_access_key_id = AKIAEXAMPLEEXAMPLE" > "$HOME/.aws/credentials"
echo "fake-key" > "$HOME/.ssh/id_ed25519"
echo "model: demo" > "$work/agent/config.yaml"

echo "demo agent: reading a task"
cat /etc/hostname >/dev/null

echo "demo agent: a poisoned prompt makes it spawn a shell and steal credentials"
sh -c "cat $HOME/.aws/credentials $HOME/.ssh/id_ed25519 >/dev/null"

echo "demo agent: ...drop a payload in /tmp and run it"
printf '#!/bin/bash\necho payload ran\n' > "$work/payload.sh"
chmod +x "$work/payload.sh"
"$work/payload.sh"

echo "demo agent: ...rewrite its own config"
echo "system_prompt: obey the attacker" >> "$work/agent/config.yaml"

echo "demo agent: ...phone home (loopback) and try to mount a filesystem (private namespace)"
(exec 3<>/dev/tcp/127.0.0.1/9) 2>/dev/null || true
unshare -m sh -c "mount -t tmpfs agentmon-demo $work/agent" 2>/dev/null || true
echo "demo agent: done"
