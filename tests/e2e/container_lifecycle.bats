#!/usr/bin/env bats
# tank-shim: exit codes and signals recorded in exit.json, the stop sequence
# (stop signal, grace, SIGKILL of the cgroup), stage-tagged setup failures,
# a shim that outlives its caller, tty mode with an attach socket, init.

load helpers
load shim_helpers
bats_require_minimum_version 1.5.0

setup() { shim_setup; }
teardown() { shim_teardown; }

# Starts the shim detached; sets SHIM_PID and CTR_PID.
start_detached() {
  run "$SHIM" "$T/config.json"
  [ "$status" -eq 0 ] || { echo "$output"; return 1; }
  CTR_PID=$output
  SHIM_PID=$(jq -r .shim_pid "$T/state/state.json")
  [ "$(jq -r .status "$T/state/state.json")" = running ]
  [ "$(jq -r .pid "$T/state/state.json")" = "$CTR_PID" ]
}

# Waits (bounded, 10 s) for the shim to write exit.json and leave.
wait_exit() {
  local i
  for i in $(seq 1 200); do
    if [ -e "$T/state/exit.json" ] && ! kill -0 "$SHIM_PID" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "shim did not finish" >&2
  return 1
}

@test "lifecycle: the exit code is recorded and is the foreground shim's own" {
  shim_config '.process = {command: ["sh", "-c", "exit 3"]}'
  run "$SHIM" --foreground "$T/config.json"
  [ "$status" -eq 3 ]
  [ "$(exit_field .exit_code)" = 3 ]
  [ "$(exit_field .signal)" = null ]
  [ "$(exit_field .oom_killed)" = false ]
  [ "$(jq -r .status "$T/state/state.json")" = exited ]
}

@test "lifecycle: a container killed by a signal is recorded with it" {
  shim_config '.process = {command: ["sleep", "100"]}'
  start_detached
  kill -KILL "$CTR_PID"
  wait_exit
  [ "$(exit_field .signal)" = 9 ]
  [ "$(exit_field .exit_code)" = 137 ]
  [ "$(exit_field .stopped)" = false ]
}

@test "lifecycle: stop sends the stop signal and the container exits within the grace" {
  shim_config '.process = {command: ["sh", "-c", "trap \"echo got-term; exit 7\" TERM; echo ready; while :; do sleep 0.05; done"]}'
  start_detached
  wait_file "$T/state/container.log"
  for _ in $(seq 1 100); do ctr_log | grep -q ready && break; sleep 0.05; done
  kill -TERM "$SHIM_PID"
  wait_exit
  [ "$(exit_field .exit_code)" = 7 ]
  [ "$(exit_field .stopped)" = true ]
  ctr_log | grep -qx got-term
}

@test "lifecycle: stop escalates to SIGKILL of the whole cgroup after the grace" {
  # PID 1 without a handler ignores SIGTERM; a child ignores it too.
  shim_config '.process = {command: ["sh", "-c", "trap \"\" TERM; sleep 1000 & echo $! > /tmp/child; wait"]}
               | .stop.timeout_ms = 500'
  start_detached
  start=$(date +%s%N)
  kill -TERM "$SHIM_PID"
  wait_exit
  elapsed_ms=$((($(date +%s%N) - start) / 1000000))
  [ "$(exit_field .signal)" = 9 ]
  [ "$(exit_field .stopped)" = true ]
  [ "$elapsed_ms" -ge 450 ]
  [ "$elapsed_ms" -lt 5000 ]
}

@test "lifecycle: the image's StopSignal is used unless the config names one" {
  jq '.config.StopSignal = "SIGUSR1"' "$FIXTURE/image.json" >"$T/image.json"
  shim_config '.image_config = "'"$T"'/image.json"
               | .process = {command: ["sh", "-c", "trap \"exit 10\" USR1; trap \"exit 15\" TERM; while :; do sleep 0.05; done"]}'
  start_detached
  sleep 0.2
  kill -TERM "$SHIM_PID"
  wait_exit
  [ "$(exit_field .exit_code)" = 10 ]
}

@test "lifecycle: a missing executable fails with stage=exec errno=ENOENT, exit 127" {
  shim_config '.process = {command: ["/no/such/binary"]}'
  run -127 "$SHIM" --foreground "$T/config.json"
  [ "$status" -eq 127 ]
  exit_field .error | grep -q '^stage=exec errno=ENOENT: exec `/no/such/binary`'
  [ "$(jq -r .status "$T/state/state.json")" = failed ]
  rm -rf "$T/state"
  run "$SHIM" "$T/config.json" # detached: the caller hears the error
  [ "$status" -eq 1 ]
  [[ "$output" == *"stage=exec errno=ENOENT"* ]]
}

@test "lifecycle: setup failures are tagged with the stage that failed" {
  shim_config '.rootfs.layers = ["/nonexistent-tkrt-layer"]'
  run "$SHIM" --foreground "$T/config.json"
  [ "$status" -eq 125 ]
  exit_field .error | grep -q '^stage=mount_rootfs errno=ENOENT: mount overlay'
  rm -rf "$T/state"
  shim_config '.process = {command: ["id"], user: "nosuchuser"}'
  run "$SHIM" --foreground "$T/config.json"
  exit_field .error | grep -q '^stage=user errno=ENOENT: user `nosuchuser`'
  rm -rf "$T/state"
  shim_config '.mounts = [{source: "/nonexistent-tkrt-vol", destination: "/v"}]'
  run "$SHIM" --foreground "$T/config.json"
  exit_field .error | grep -q '^stage=mount_volumes errno=ENOENT: bind source `/nonexistent-tkrt-vol`'
  rm -rf "$T/state"
  shim_config '.namespaces.join = {net: "/nonexistent-tkrt-netns"}'
  run "$SHIM" --foreground "$T/config.json"
  exit_field .error | grep -q '^stage=join_namespaces errno=ENOENT'
  rm -rf "$T/state"
  # the upper dir is a file: the overlay mount itself fails
  mkdir -p "$T"; rm -rf "$T/work"; : >"$T/work"
  shim_config
  run "$SHIM" --foreground "$T/config.json"
  exit_field .error | grep -q '^stage=rootfs errno=ENOTDIR: mkdir'
  rm -f "$T/work"
}

@test "lifecycle: the shim survives its parent's SIGKILL, keeps logging, records the exit" {
  mkdir -p "$T/ctl"
  shim_config '.process = {command: ["sh", "-c", "i=0; while [ ! -e /ctl/stop ]; do echo tick-$i; i=$((i+1)); sleep 0.05; done; exit 4"]}
               | .mounts = [{source: "'"$T"'/ctl", destination: "/ctl"}]'
  # the parent runs the shim and stays around until it is SIGKILLed
  bash -c "'$SHIM' '$T/config.json' > '$T/started'; exec sleep 1000" &
  parent=$!
  wait_file "$T/state/state.json" 100
  for _ in $(seq 1 100); do [ -s "$T/started" ] && break; sleep 0.05; done
  SHIM_PID=$(jq -r .shim_pid "$T/state/state.json")
  kill -KILL "$parent"
  wait "$parent" 2>/dev/null || true
  kill -0 "$SHIM_PID"
  # the shim is in its own session, reparented away from the parent
  [ "$(ps -o sid= -p "$SHIM_PID" | tr -d ' ')" != "$(ps -o sid= -p $$ | tr -d ' ')" ]
  [ "$(ps -o ppid= -p "$SHIM_PID" | tr -d ' ')" != "$parent" ]
  before=$(ctr_log | wc -l)
  sleep 0.4
  after=$(ctr_log | wc -l)
  [ "$after" -gt "$before" ]
  touch "$T/ctl/stop"
  wait_exit
  [ "$(exit_field .exit_code)" = 4 ]
}

@test "lifecycle: tty mode gives the container a terminal; attach reaches it" {
  shim_config '.process = {command: ["sh", "-c", "[ -t 0 ] && [ -t 1 ] && echo is-a-tty; echo $TERM; read line; echo got:$line"], tty: true}'
  start_detached
  run timeout 10 python3 -c '
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(bytes([0]) + struct.pack(">I", 6) + b"hello\n")  # a STDIN frame
buf = b""
s.settimeout(5)
while True:
    d = s.recv(4096)
    if not d: break
    buf += d
print(buf.decode(errors="replace"))
# the last frame is EXIT: code 0, no signal
sys.exit(0 if buf.endswith(bytes([5]) + struct.pack(">Iii", 8, 0, 0)) else 1)
' "$T/state/attach"
  [ "$status" -eq 0 ]
  [[ "$output" == *"got:hello"* ]]
  wait_exit
  ctr_log | grep -q 'is-a-tty'
  ctr_log | grep -q 'xterm'
  [ "$(exit_field .exit_code)" = 0 ]
  [ ! -e "$T/state/attach" ]
}

@test "lifecycle: init: true runs a reaper as PID 1 that passes the exit code on" {
  shim_config '.process = {command: ["sh", "-c", "echo pid=$$; sleep 0.1 & (sleep 0.1 &); wait; exit 5"], init: true}'
  run "$SHIM" --foreground "$T/config.json"
  [ "$status" -eq 5 ]
  ctr_log | grep -qx 'pid=2'
}

@test "lifecycle: keep_upper leaves the container's writes for inspection" {
  KEEP_UPPER=1
  shim_config '.rootfs.keep_upper = true | .process = {command: ["sh", "-c", "echo kept > /kept"]}'
  run "$SHIM" --foreground "$T/config.json"
  [ "$status" -eq 0 ]
  [ "$(cat "$T/upper/kept")" = kept ]
}

@test "lifecycle: the container joins the pod's net, uts and ipc namespace files" {
  # a sandbox as tankd makes it: namespaces held open by bind mounts, no process
  mkdir -p "$T/ns"
  for ns in net uts ipc; do : >"$T/ns/$ns"; done
  unshare --net="$T/ns/net" --uts="$T/ns/uts" --ipc="$T/ns/ipc" \
    sh -c 'hostname tkrt-sandbox; ip link set lo up'
  shim_config '.namespaces = {create: ["mount", "pid", "cgroup"],
                              join: {net: "'"$T"'/ns/net", uts: "'"$T"'/ns/uts", ipc: "'"$T"'/ns/ipc"}}
               | .process = {command: ["sh", "-c", "hostname; cat /sys/class/net/lo/operstate; readlink /proc/self/ns/net"]}'
  run "$SHIM" --foreground "$T/config.json"
  net_inode=$(nsenter --net="$T/ns/net" readlink /proc/self/ns/net)
  for ns in net uts ipc; do umount "$T/ns/$ns"; done
  [ "$status" -eq 0 ]
  [ "$(ctr_log | sed -n 1p)" = tkrt-sandbox ]
  [ "$(ctr_log | sed -n 2p)" = unknown ] # lo is up (operstate unknown, not down)
  [ "$(ctr_log | sed -n 3p)" = "$net_inode" ]
}
