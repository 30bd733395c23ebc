#!/usr/bin/env bats
# tank attach's machine side, without tankd: a tty container started by
# tank-shim, `tank-shim attach` relaying to its attach socket, the CLI's session
# code on the other end (tests/helpers/tank-execpeer). Detach keys leave the
# container running; re-attach reaches the same shell; the exit status of the
# container comes back to whoever is attached; up to 8 clients share the PTY.

load helpers
load shim_helpers

PEER=$TANK_BUILD/tests/helpers/tank-execpeer
export TANK_SHIM=$TANK_BUILD/tank-shim

setup() {
  shim_setup
  shim_config '.process = {command: ["sh"], tty: true}'
  run "$SHIM" "$T/config.json"
  [ "$status" -eq 0 ] || { echo "$output"; return 1; }
  CTR_PID=$output
  SHIM_PID=$(jq -r .shim_pid "$T/state/state.json")
}

teardown() {
  kill -TERM "$SHIM_PID" 2>/dev/null || true
  for _ in $(seq 1 100); do [ -e "$T/state/exit.json" ] && break; sleep 0.05; done
  shim_teardown
}

# attach_typing "TEXT" SECONDS [TEXT2]: types TEXT, waits, then types TEXT2 (default: ctrl-p ctrl-q).
attach_typing() {
  run bash -c "(printf '%s' \"\$1\"; sleep $2; printf \"\${3:-\\x10\\x11}\") | '$PEER' attach '$T/config.json'" _ "$1" "${3:-}"
}

@test "attach: input reaches the PTY, output comes back, ctrl-p ctrl-q detaches and the container runs on" {
  attach_typing $'echo mark-$((6*7)) pid-$$\n' 1
  [ "$status" -eq 0 ]
  [[ "$output" == *"mark-42 pid-1"* ]]
  [[ "$output" == *detached* ]]
  kill -0 "$CTR_PID"
  [ "$(jq -r .status "$T/state/state.json")" = running ]
}

@test "attach: re-attach reaches the same shell" {
  attach_typing $'X=remembered; echo set\n' 1
  [[ "$output" == *set* ]]
  attach_typing $'echo again-$X\n' 1
  [ "$status" -eq 0 ]
  [[ "$output" == *"again-remembered"* ]]
}

@test "attach: a detach key alone is input; other detach keys can be chosen" {
  # ctrl-p then x is not the sequence: both reach the shell (ctrl-p is harmless to sh)
  run bash -c "(printf 'echo one\n\x10'; sleep 0.5; printf 'x\n'; sleep 0.5; printf 'echo two\n'; sleep 1; printf '\x01d') | '$PEER' attach '$T/config.json' ctrl-a,d"
  [ "$status" -eq 0 ]
  [[ "$output" == *one* ]]
  [[ "$output" == *two* ]]
  [[ "$output" == *detached* ]]
  kill -0 "$CTR_PID"
}

@test "attach: when the container's process exits, attach returns its exit status" {
  attach_typing $'exit 3\n' 5 ''
  [ "$status" -eq 3 ]
  for _ in $(seq 1 100); do [ -e "$T/state/exit.json" ] && break; sleep 0.05; done
  [ "$(jq -r .exit_code "$T/state/exit.json")" = 3 ]
}

@test "attach: a second client shares the PTY: both see the output of either's input" {
  mkfifo "$T/in1"
  "$PEER" attach "$T/config.json" <"$T/in1" >"$T/out1" 2>&1 &
  local p1=$!
  exec 7>"$T/in1"
  sleep 0.5
  attach_typing $'echo from-second-$((1+1))\n' 1
  [[ "$output" == *"from-second-2"* ]]
  grep -q "from-second-2" "$T/out1"     # the first client saw it too
  printf '\x10\x11' >&7
  exec 7>&-
  wait "$p1"
}

@test "attach: at most 8 clients; a 9th is refused with the reason" {
  local i pids=()
  for i in 1 2 3 4 5 6 7 8; do
    sleep 30 | "$PEER" attach "$T/config.json" >/dev/null 2>&1 &
    pids+=($!)
  done
  sleep 1
  run -125 "$PEER" attach "$T/config.json" </dev/null
  [[ "$output" == *"8 clients are attached already"* ]]
  kill "${pids[@]}" 2>/dev/null || true
  pkill -f "^sleep 30$" || true
}
