#!/usr/bin/env bats
# tank exec and tank attach through tankd: POST /v1/pods/NAME/exec|attach
# answered with 101 and handed to tank-shim; the CLI passes exit codes on.

load helpers
load exec_helpers

setup() { exec_pod_up; }
teardown() { exec_pod_down; }

@test "exec via tankd: output, exit code, the container's env and working dir" {
  run --separate-stderr "$TANK" exec ex -- sh -c 'echo out $GREETING; pwd; echo err >&2; exit 5'
  [ "$status" -eq 5 ]
  [ "${lines[0]}" = "out hello-from-spec" ]
  [ "${lines[1]}" = /tmp ]
  [ "$stderr" = err ]
  run "$TANK" exec ex -e GREETING=over -w / -u app -- sh -c 'echo $GREETING; pwd; id -u'
  [ "$status" -eq 0 ]
  [ "$(echo $output)" = "over / 1000" ]
  # docker style, without --: the command starts after POD
  run "$TANK" exec ex cat /etc/marker
  [ "$output" = from-the-image ]
}

@test "exec via tankd: joins the container's namespaces and sees its root, PIDs, hostname" {
  local pid ns
  pid=$(ctr_field ex app .pid)
  for ns in mnt pid net uts ipc cgroup; do
    run "$TANK" exec ex -- readlink "/proc/self/ns/$ns"
    [ "$output" = "$(readlink "/proc/$pid/ns/$ns")" ]
  done
  run "$TANK" exec ex -- cat /proc/1/comm
  [ "$output" = sleep ]
  run "$TANK" exec ex -- hostname
  [ "$output" = ex ]
  run "$TANK" exec ex -c shell -- cat /proc/1/comm
  [ "$output" = sh ]                     # -c picks the container
  run "$TANK" exec ex -- ls /proc/self/fd
  [ "$(echo $output)" = "0 1 2 3" ]       # no fd of tankd or the helper leaks in
}

@test "exec via tankd: -i forwards stdin; 126/127 for what cannot run; 125 for tank's refusals" {
  run bash -c "printf 'x\ny\nz\n' | '$TANK' exec -i ex -- wc -l"
  [ "$(echo $output)" = 3 ]
  run -127 "$TANK" exec ex -- no-such-command
  [[ "$output" == *"stage=exec errno=ENOENT"* ]]
  run -126 "$TANK" exec ex -u ghost -- true
  [[ "$output" == *"stage=user"* ]]
  run -125 "$TANK" exec nope -- true
  [[ "$output" == *"no pod named nope"* ]]
  run -125 "$TANK" exec ex -c nope -- true
  [[ "$output" == *"no container named nope"* ]]
  run -125 "$TANK" attach ex -c app
  [[ "$output" == *"tty: false"* ]]
  # Without the upgrade headers the API says how to ask.
  run curl -s --unix-socket "$TANK_SOCKET" -X POST -d '{"command":["true"]}' http://t/v1/pods/ex/exec
  [[ "$output" == *"needs an upgraded connection"* ]]
}

@test "exec via tankd: several at once, each with its own exit code" {
  local i pids=()
  for i in 1 2 3 4 5 6 7 8; do
    "$TANK" exec ex -- sh -c "sleep 0.3; echo n$i; exit $i" >"$tmp/out.$i" &
    pids+=($!)
  done
  for i in 1 2 3 4 5 6 7 8; do
    local st=0
    wait "${pids[$((i - 1))]}" || st=$?
    [ "$st" -eq "$i" ]
    [ "$(cat "$tmp/out.$i")" = "n$i" ]
  done
}

@test "exec via tankd: ^C on the client ends the exec'd process, not the container" {
  "$TANK" exec ex -- sleep 4242 &
  local cli=$!
  for _ in $(seq 1 50); do pgrep -f '^sleep 4242' >/dev/null && break; sleep 0.05; done
  pgrep -f '^sleep 4242'
  kill -INT "$cli"
  wait "$cli" || true
  for _ in $(seq 1 80); do pgrep -f '^sleep 4242' >/dev/null || break; sleep 0.05; done
  ! pgrep -f '^sleep 4242'
  [ "$(ctr_field ex app .state)" = running ]
}

@test "attach via tankd: exit of the attached shell returns its code and the restart policy applies" {
  local pid0
  pid0=$(ctr_field ex shell .pid)
  run bash -c "(printf 'exit 4\n'; sleep 5) | '$TANK' attach ex -c shell"
  [ "$status" -eq 4 ]
  for _ in $(seq 1 100); do
    [ "$(ctr_field ex shell .restarts)" = 1 ] && [ "$(ctr_field ex shell .state)" = running ] && break
    sleep 0.05
  done
  [ "$(ctr_field ex shell .restarts)" = 1 ]
  [ "$(ctr_field ex shell .pid)" != "$pid0" ]
  # and the new shell can be attached to again
  run bash -c "(printf 'echo back-\$((3*3))\n'; sleep 1; printf '\x10\x11') | '$TANK' attach ex -c shell"
  [ "$status" -eq 0 ]
  [[ "$output" == *back-9* ]]
}
