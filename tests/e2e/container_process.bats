#!/usr/bin/env bats
# tank-shim: the container's argv, env, cwd and user come from the image config
# and the container config by the Kubernetes rules; output lands in a CRI log.

load helpers
load shim_helpers

setup() { shim_setup; }
teardown() { shim_teardown; }

run_fg() {
  run "$SHIM" --foreground "$T/config.json"
}

@test "process: without command or args the image's Entrypoint and Cmd run" {
  shim_config
  run_fg
  [ "$status" -eq 0 ]
  [ "$(ctr_log)" = "ep cmd1 cmd2" ]
}

@test "process: args replace the image's Cmd and keep its Entrypoint" {
  shim_config '.process = {args: ["a1", "a 2"]}'
  run_fg
  [ "$status" -eq 0 ]
  [ "$(ctr_log)" = "ep a1 a 2" ]
}

@test "process: command replaces Entrypoint and Cmd; with args both are used" {
  shim_config '.process = {command: ["echo", "cmd-only"]}'
  run_fg
  [ "$(ctr_log)" = "cmd-only" ]
  rm -rf "$T/state"
  shim_config '.process = {command: ["/bin/echo", "c"], args: ["x", "y"]}'
  run_fg
  [ "$status" -eq 0 ]
  [ "$(ctr_log)" = "c x y" ]
}

@test "process: env is merged over the image's Env by name" {
  shim_config '.process = {command: ["env"], env: {OVER: "spec", NEW: "n"}}'
  run_fg
  [ "$status" -eq 0 ]
  ctr_log | grep -qx 'OVER=spec'
  ctr_log | grep -qx 'IMG=1'
  ctr_log | grep -qx 'NEW=n'
  ctr_log | grep -qx 'PATH=/usr/local/bin:/usr/bin:/bin'
  ctr_log | grep -qx 'HOSTNAME=tkrt-pod'
  ctr_log | grep -qx 'HOME=/root'
  [ "$(ctr_log | grep -c '^OVER=')" -eq 1 ]
}

@test "process: cwd is the image's WorkingDir (created), overridden by working_dir" {
  shim_config '.process = {command: ["pwd"]}'
  run_fg
  [ "$(ctr_log)" = /srv/work ]
  rm -rf "$T/state"
  shim_config '.process = {command: ["pwd"], working_dir: "/tmp"}'
  run_fg
  [ "$(ctr_log)" = /tmp ]
}

@test "process: user by name gets its uid, primary gid and groups from the image" {
  shim_config '.process = {command: ["sh", "-c", "id; echo HOME=$HOME"], user: "app"}'
  run_fg
  [ "$status" -eq 0 ]
  ctr_log | grep -q 'uid=1000(app) gid=1000(app) groups=29(audio),2000(extra)'
  ctr_log | grep -qx 'HOME=/home/app'
}

@test "process: user by number, user:group by number and by name" {
  shim_config '.process = {command: ["id"], user: "1000:2000"}'
  run_fg
  ctr_log | grep -q '^uid=1000(app) gid=2000(extra)'
  rm -rf "$T/state"
  shim_config '.process = {command: ["id"], user: "4242"}'
  run_fg
  ctr_log | grep -q '^uid=4242 gid=0(root)'
  rm -rf "$T/state"
  shim_config '.process = {command: ["id"], user: "app:extra"}'
  run_fg
  ctr_log | grep -q '^uid=1000(app) gid=2000(extra)'
}

@test "process: the image's User applies unless the container sets one" {
  jq '.config.User = "app"' "$FIXTURE/image.json" >"$T/image.json"
  shim_config '.image_config = "'"$T"'/image.json" | .process = {command: ["id", "-u"]}'
  run_fg
  [ "$(ctr_log)" = 1000 ]
}

@test "process: stdout and stderr are logged in the CRI format" {
  shim_config '.process = {command: ["sh", "-c", "echo out; echo err >&2; printf tail"]}'
  run_fg
  [ "$status" -eq 0 ]
  grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{9}Z stdout F out$' "$T/state/container.log"
  grep -Eq ' stderr F err$' "$T/state/container.log"
  grep -Eq ' stdout F tail$' "$T/state/container.log"
}

@test "process: the log rotates at max_bytes and keeps max_files files" {
  shim_config '.process = {command: ["sh", "-c", "i=0; while [ $i -lt 2000 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done"]}
               | .log = {max_bytes: 8192, max_files: 3}'
  run_fg
  [ "$status" -eq 0 ]
  [ "$(ls "$T/state" | grep -c '^container.log')" -eq 3 ]
  for f in "$T"/state/container.log*; do [ "$(stat -c %s "$f")" -le 8192 ]; done
  tail -n 1 "$T/state/container.log" | grep -q 'line-1999-'
  # rotation kept order: the oldest kept file ends where the next begins
  last_of_2=$(tail -n 1 "$T/state/container.log.2" | sed -E 's/.*line-([0-9]+)-.*/\1/')
  first_of_1=$(head -n 1 "$T/state/container.log.1" | sed -E 's/.*line-([0-9]+)-.*/\1/')
  [ $((last_of_2 + 1)) -eq "$first_of_1" ]
}

@test "process: upper layer shadows lower ones; writes go to the upper dir only" {
  shim_config '.process = {command: ["sh", "-c", "cat /etc/layer; echo new > /etc/layer; cat /etc/layer"]}'
  run_fg
  [ "$status" -eq 0 ]
  [ "$(ctr_log | tr '\n' ' ')" = "etc new " ]
  [ "$(cat "$FIXTURE/layers/etc/etc/layer")" = etc ]
}
