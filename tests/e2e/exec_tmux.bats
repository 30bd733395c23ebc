#!/usr/bin/env bats
# Interactive exec and attach under a real terminal (tmux): raw mode, the
# window size (and its changes) reaching the process, exit codes, detach keys,
# re-attach to the same shell, and the restart policy after `exit`.

load helpers
load exec_helpers

setup() {
  exec_pod_up
  TM=tkex-$$-$BATS_TEST_NUMBER
}

teardown() {
  tmux -L "$TM" kill-server 2>/dev/null || true
  exec_pod_down
}

tm() { tmux -L "$TM" "$@"; }

# run_in_tmux WINDOW COMMAND: a detached session running COMMAND under $TANK's env;
# when COMMAND ends its exit code lands in $tmp/WINDOW.exit.
run_in_tmux() {
  local cmd="env TANK_SOCKET=$TANK_SOCKET $2; echo EXIT=\$? >$tmp/$1.exit; sleep 120"
  if tm has-session 2>/dev/null; then
    tm new-window -t t -n "$1" "$cmd"
  else
    tm -f /dev/null new-session -d -s t -n "$1" -x 100 -y 30 "$cmd"
    tm set -g status off
  fi
}

screen() { tm capture-pane -p -t "t:$1"; }

# wait_screen WINDOW REGEX: bounded wait for a line matching REGEX.
wait_screen() {
  local i
  for i in $(seq 1 100); do
    screen "$1" | grep -qE "$2" && return 0
    sleep 0.05
  done
  echo "no /$2/ on the screen of $1:"; screen "$1"
  return 1
}

wait_exit() {
  local i
  for i in $(seq 1 100); do
    [ -s "$tmp/$1.exit" ] && { cat "$tmp/$1.exit"; return 0; }
    sleep 0.05
  done
  echo "no exit from $1:"; screen "$1"; return 1
}

pane_size() { tm display -p -t "t:$1" '#{pane_height} #{pane_width}'; }

@test "tmux: exec -it runs a shell; output, window resize reaching stty size, exit 5 → 5" {
  run_in_tmux sh "$TANK exec -it ex -- sh"
  wait_screen sh '^/tmp #'
  tm send-keys -t t:sh 'echo hi-$((40+2))' Enter
  wait_screen sh '^hi-42$'
  local size
  size=$(pane_size sh)
  tm send-keys -t t:sh 'stty size' Enter
  wait_screen sh "^$size\$"
  tm resize-window -t t:sh -x 120 -y 40
  size=$(pane_size sh)
  [ "$size" = "40 120" ]
  tm send-keys -t t:sh 'clear; stty size' Enter
  wait_screen sh "^40 120\$"
  tm send-keys -t t:sh 'tty' Enter
  wait_screen sh '^/dev/pts/[0-9]+$'
  tm send-keys -t t:sh 'exit 5' Enter
  run wait_exit sh
  [ "$output" = EXIT=5 ]
}

@test "tmux: attach, type, detach with Ctrl-P Ctrl-Q (pod keeps running), re-attach to the same shell, exit → restarted" {
  run_in_tmux a1 "$TANK attach ex -c shell"
  sleep 0.3
  tm send-keys -t t:a1 'X=kept; echo one-$((1+1)) $$' Enter
  wait_screen a1 '^one-2 1$'
  local size
  size=$(pane_size a1)
  tm send-keys -t t:a1 'stty size' Enter
  wait_screen a1 "^$size\$"
  tm send-keys -t t:a1 C-p C-q
  run wait_exit a1
  [ "$output" = EXIT=0 ]
  wait_screen a1 'detached from ex/shell'
  [ "$(ctr_field ex shell .state)" = running ]
  [ "$(ctr_field ex shell .restarts)" = 0 ]

  run_in_tmux a2 "$TANK attach ex -c shell"
  sleep 0.3
  tm send-keys -t t:a2 'echo again-$X' Enter
  wait_screen a2 '^again-kept$'          # the same shell: its variable is still set
  tm send-keys -t t:a2 'exit' Enter
  run wait_exit a2
  [ "$output" = EXIT=0 ]
  for _ in $(seq 1 100); do
    [ "$(ctr_field ex shell .restarts)" = 1 ] && [ "$(ctr_field ex shell .state)" = running ] && break
    sleep 0.05
  done
  [ "$(ctr_field ex shell .restarts)" = 1 ]
  [ "$(ctr_field ex shell .state)" = running ]
}
