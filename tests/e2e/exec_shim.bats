#!/usr/bin/env bats
# tank exec's machine side, without tankd: a container started by tank-shim,
# `tank-shim exec` on one end of a socketpair and the CLI's session code on the
# other (tests/helpers/tank-execpeer). The exec'd process joins the container's
# namespaces, cgroup, root, env, user and security settings, and leaks no fd.

load helpers
load shim_helpers

PEER=$TANK_BUILD/tests/helpers/tank-execpeer
export TANK_SHIM=$TANK_BUILD/tank-shim

setup() {
  shim_setup
  shim_config '.process = {command: ["sleep", "1000"], env: {OVER: "spec", CTR: "c"}}'
  run "$SHIM" "$T/config.json"
  [ "$status" -eq 0 ] || { echo "$output"; return 1; }
  CTR_PID=$output
}

teardown() {
  if [ -f "$T/state/state.json" ]; then
    kill -TERM "$(jq -r .shim_pid "$T/state/state.json")" 2>/dev/null || true
    for _ in $(seq 1 100); do [ -e "$T/state/exit.json" ] && break; sleep 0.05; done
  fi
  shim_teardown
}

# ex JSON_REQUEST: runs it; $output has stdout+stderr, $status the exit code.
ex() { run "$PEER" exec "$T/config.json" "$1"; }

@test "exec: runs a command in the container; stdout, stderr and the exit code come back" {
  run --separate-stderr "$PEER" exec "$T/config.json" '{"command":["sh","-c","echo out; echo err >&2; exit 7"]}'
  [ "$status" -eq 7 ]
  [ "$output" = out ]
  [ "$stderr" = err ]
  ex '{"command":["sh","-c","kill -9 $$"]}'
  [ "$status" -eq 137 ]
}

@test "exec: joins every namespace of the container (mount, pid, net, uts, ipc, cgroup)" {
  local ns want got
  for ns in mnt pid net uts ipc cgroup; do
    want=$(readlink "/proc/$CTR_PID/ns/$ns")
    ex "{\"command\":[\"readlink\",\"/proc/self/ns/$ns\"]}"
    [ "$status" -eq 0 ]
    [ "$output" = "$want" ] || { echo "$ns: $output != $want"; return 1; }
  done
}

@test "exec: sees the container's root, its processes, hostname and network" {
  ex '{"command":["cat","/etc/layer"]}'
  [ "$output" = etc ]                    # the image's file, not the host's
  ex '{"command":["hostname"]}'
  [ "$output" = tkrt-pod ]
  ex '{"command":["cat","/proc/1/comm"]}'
  [ "$output" = sleep ]                  # PID 1 is the container's init
  ex '{"command":["sh","-c","ls /proc | grep -c \"^[0-9]\""]}'
  [ "$output" -le 4 ]                    # init, sh, grep, ls: not the host's processes
  ex '{"command":["cat","/proc/net/dev"]}'
  [ "$(echo "$output" | grep ':' | cut -d: -f1 | tr -d ' ')" = lo ] # its own netns: only lo
}

@test "exec: joins the container's cgroup on every hierarchy" {
  ex '{"command":["sh","-c","cat /proc/self/cgroup; echo ---; cat /proc/1/cgroup"]}'
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | sed -n '1,/^---$/p' | grep -v -- ---)" = "$(echo "$output" | sed -n '/^---$/,$p' | grep -v -- ---)" ]
  # From the host: while it runs, the exec'd process is listed in the container's cgroup.
  "$PEER" exec "$T/config.json" '{"command":["sleep","2"]}' &
  local peer=$! pids
  sleep 0.5
  pids=$(cat "$CG_ROOT/memory/$CG/cgroup.procs" 2>/dev/null || cat "$CG_ROOT/$CG/cgroup.procs")
  [ "$(echo "$pids" | wc -l)" -eq 2 ]
  wait "$peer"
}

@test "exec: gets the container's env, the image's, and -e overrides" {
  ex '{"command":["env"]}'
  echo "$output" | grep -qx 'IMG=1'
  echo "$output" | grep -qx 'CTR=c'
  echo "$output" | grep -qx 'OVER=spec'
  echo "$output" | grep -qx 'HOSTNAME=tkrt-pod'
  echo "$output" | grep -qx 'HOME=/root'
  echo "$output" | grep -qx 'PATH=/usr/local/bin:/usr/bin:/bin'
  ex '{"command":["env"],"env":["OVER=exec","NEW=n"]}'
  echo "$output" | grep -qx 'OVER=exec'
  echo "$output" | grep -qx 'NEW=n'
  [ "$(echo "$output" | grep -c '^OVER=')" -eq 1 ]
}

@test "exec: working dir and user: the container's by default, overridable" {
  ex '{"command":["pwd"]}'
  [ "$output" = /srv/work ]
  ex '{"command":["pwd"],"workdir":"/tmp"}'
  [ "$output" = /tmp ]
  ex '{"command":["sh","-c","id; echo $HOME"],"user":"app"}'
  [ "${lines[0]}" = "uid=1000(app) gid=1000(app) groups=29(audio),2000(extra)" ]
  [ "${lines[1]}" = /home/app ]
}

@test "exec: the container's security settings: caps, no_new_privs, seccomp" {
  ex '{"command":["grep","-E","^(CapEff|CapBnd|NoNewPrivs|Seccomp):","/proc/self/status"]}'
  echo "$output" | grep -qx $'CapEff:\t00000000a80425fb'
  echo "$output" | grep -qx $'CapBnd:\t00000000a80425fb'
  echo "$output" | grep -qx $'NoNewPrivs:\t1'
  echo "$output" | grep -qx $'Seccomp:\t2'
  ex '{"command":["grep","^CapEff:","/proc/self/status"],"user":"app"}'
  [ "$output" = $'CapEff:\t0000000000000000' ]
  ex '{"command":["unshare","-n","true"]}'
  [ "$status" -ne 0 ]                    # the seccomp filter refuses new namespaces
}

@test "exec: leaks no file descriptor: only 0, 1 and 2 reach the process" {
  # ls opens /proc/self/fd itself as 3
  ex '{"command":["ls","/proc/self/fd"]}'
  [ "$(echo $output)" = "0 1 2 3" ]
  ex '{"command":["ls","/proc/self/fd"],"tty":true}'
  [ "$(echo $output | tr -d '\r')" = "0 1 2 3" ]
}

@test "exec: -t gives a PTY of the container's devpts with the requested size and TERM" {
  ex '{"command":["sh","-c","tty; stty size; echo $TERM; [ -t 0 ] && echo stdin-tty"],"tty":true,"rows":33,"cols":101}'
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | tr -d '\r')" = "/dev/pts/0
33 101
xterm
stdin-tty" ]
}

@test "exec: -i forwards stdin, then its EOF" {
  run bash -c "printf 'a\nb\n' | '$PEER' exec '$T/config.json' '{\"command\":[\"wc\",\"-l\"],\"stdin\":true}'"
  [ "$status" -eq 0 ]
  [ "$(echo $output)" = 2 ]
  # without -i the process reads /dev/null
  run bash -c "echo x | '$PEER' exec '$T/config.json' '{\"command\":[\"cat\"]}'"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "exec: failures say which step failed; 127 not found, 126 otherwise" {
  run -127 "$PEER" exec "$T/config.json" '{"command":["no-such-cmd"]}'

  [[ "$output" == *"stage=exec errno=ENOENT"*"no-such-cmd"* ]]
  ex '{"command":["/etc/layer"]}'
  [ "$status" -eq 126 ]
  ex '{"command":["id"],"user":"ghost"}'
  [ "$status" -eq 126 ]
  [[ "$output" == *"stage=user"*"ghost"* ]]
  ex '{"command":["pwd"],"workdir":"/no/such/dir"}'
  [ "$status" -eq 126 ]
  [[ "$output" == *"stage=cwd"* ]]
}

@test "exec: several at once" {
  local i pids=()
  for i in 1 2 3 4 5 6; do
    "$PEER" exec "$T/config.json" "{\"command\":[\"sh\",\"-c\",\"sleep 0.3; echo n$i; exit $i\"]}" >"$T/out.$i" &
    pids+=($!)
  done
  for i in 1 2 3 4 5 6; do
    local st=0
    wait "${pids[$((i - 1))]}" || st=$?
    [ "$st" -eq "$i" ]
    [ "$(cat "$T/out.$i")" = "n$i" ]
  done
}

@test "exec: a client that goes away takes its process with it (SIGHUP)" {
  "$PEER" exec "$T/config.json" '{"command":["sleep","777"]}' &
  local peer=$!
  for _ in $(seq 1 50); do pgrep -f '^sleep 777' >/dev/null && break; sleep 0.05; done
  pgrep -f '^sleep 777'
  kill -9 "$peer"
  for _ in $(seq 1 60); do pgrep -f '^sleep 777' >/dev/null || break; sleep 0.05; done
  ! pgrep -f '^sleep 777'
  # the container is untouched
  kill -0 "$CTR_PID"
}

@test "exec: into a container that is not running fails cleanly" {
  kill -TERM "$(jq -r .shim_pid "$T/state/state.json")"
  for _ in $(seq 1 100); do [ -e "$T/state/exit.json" ] && break; sleep 0.05; done
  ex '{"command":["true"]}'
  [ "$status" -eq 126 ]
  [[ "$output" == *"not running"* ]]
}
