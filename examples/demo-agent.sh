#!/bin/bash
# A pretend AI agent that has been talked into misbehaving. Everything it does is harmless and stays
# on this machine: a throw-away HOME with fake credentials, loopback only, a private mount namespace.
set -u
# The agent's own code/config lives in $AGENT_HOME/agent (`cargo xtask run` protects it).
work=${AGENT_HOME:-/tmp/agentmon-demo}
rm -rf "$work"; mkdir -p "$work"
trap 'umount "$work/agent" 2>/dev/null; rm -rf "$work"' EXIT
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

echo "demo agent: ...ask the cloud metadata service for credentials (its own network namespace)"
unshare -n bash -c 'ip link set lo up; ip addr add 169.254.169.254/32 dev lo; (exec 3<>/dev/tcp/169.254.169.254/80) 2>/dev/null' || true

echo "demo agent: ...and try to mount a filesystem (private mount namespace)"
unshare -m sh -c "mount -t tmpfs agentmon-demo $work/agent" 2>/dev/null || true
echo "demo agent: done"
