#!/usr/bin/env bats
# tankd's API and the CLI on the embedded store: apply/get/inspect/delete,
# dry runs, events, bad input, and acknowledged applies surviving kill -9.

load helpers

setup() {
  tmp=$(make_tmp)
  start_tankd
}

teardown() {
  stop_tankd
  rm -rf "$tmp"
}

api() { # METHOD PATH [curl args...]
  local m=$1 p=$2
  shift 2
  curl -s -o "$tmp/body" -w '%{http_code}' --unix-socket "$TANK_SOCKET" -X "$m" "http://t$p" "$@"
}

@test "apply creates, then reports unchanged and configured; get and inspect show it" {
  run "$TANK" apply -f "$TANK_SRC/examples/web.yaml"
  [ "$status" -eq 0 ]
  [ "$output" = "pod/web created" ]
  run "$TANK" apply -f "$TANK_SRC/examples/web.yaml"
  [ "$output" = "pod/web unchanged" ]
  sed 's/pids: 100/pids: 101/' "$TANK_SRC/examples/web.yaml" >"$tmp/web2.yaml"
  run "$TANK" apply -f "$tmp/web2.yaml"
  [ "$output" = "pod/web configured" ]
  run "$TANK" ls
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == NAME*STATUS*READY*RESTARTS*AGE*IP ]]
  [[ "${lines[1]}" == web\ * ]]
  [ "$(echo "${lines[1]}" | awk '{print $6}')" = 10.0.0.5 ]
  run "$TANK" inspect web
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | jq -r .spec.containers[0].limits.pids)" = 101 ]
  [ "$(echo "$output" | jq -r '.status.containers[0] | keys | join(",")')" = \
    "exit_code,finished_at,name,next_restart_at,oom_killed,pid,restarts,signal,started_at,state" ]
  [ "$(echo "$output" | jq -r '.status | has("phase") and has("message") and has("restarts") and has("ips")')" = true ]
}

@test "several documents in one apply; a Kubernetes manifest too" {
  cat "$TANK_SRC/examples/shell.yaml" >"$tmp/two.yaml"
  echo --- >>"$tmp/two.yaml"
  cat "$TANK_SRC/examples/sidecar.yaml" >>"$tmp/two.yaml"
  run "$TANK" apply -f "$tmp/two.yaml" -f "$TANK_SRC/examples/k8s-pod.yaml"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "pod/shell created" ]
  [ "${lines[1]}" = "pod/sidecar created" ]
  [ "${lines[2]}" = "pod/nginx-like created" ]
  [ "$("$TANK" get -o json | jq -r '[.items[].spec.name] | join(",")')" = "nginx-like,shell,sidecar" ]
}

@test "--dry-run validates and compares without storing" {
  run "$TANK" apply --dry-run -f "$TANK_SRC/examples/web.yaml"
  [ "$status" -eq 0 ]
  [ "$output" = "pod/web created (dry run)" ]
  run "$TANK" get web
  [ "$status" -eq 1 ]
  [[ "$output" == *"no pod named web"* ]]
}

@test "delete removes the pod and its status; --wait returns once it is gone" {
  "$TANK" apply -f "$TANK_SRC/examples/web.yaml"
  run "$TANK" delete --wait web
  [ "$status" -eq 0 ]
  [ "$output" = "pod/web deleted" ]
  run "$TANK" get web
  [ "$status" -eq 1 ]
  run "$TANK" delete web
  [ "$status" -eq 1 ]
  [[ "$output" == *"no pod named web"* ]]
}

@test "events stream pod and status changes and resume from a revision" {
  "$TANK" apply -f "$TANK_SRC/examples/shell.yaml"
  "$TANK" delete shell
  run timeout 2 "$TANK" events --since 0 -o json
  [ "$(echo "$output" | jq -r '"\(.revision) \(.type) \(.kind) \(.pod)"' | head -4 | tr '\n' ';')" = \
    "1 put pod shell;2 put status shell;3 delete pod shell;4 delete status shell;" ]
  run timeout 2 "$TANK" events --since 2 -o json
  [ "$(echo "$output" | jq -r .revision | head -1)" = 3 ]
}

@test "bad input gets a clear error and the daemon keeps serving" {
  [ "$(api PUT /v1/pods/web --data-binary 'name: web')" = 400 ]
  [[ "$(jq -r '.details[0]' "$tmp/body")" == "request:1:1: containers: required field missing" ]]
  [ "$(api PUT /v1/pods/web --data-binary '{"name": "web", ')" = 400 ]
  [[ "$(jq -r '.details[0]' "$tmp/body")" == request:1:*"JSON:"* ]]
  [ "$(api PUT /v1/pods/web --data-binary "$(sed 's/name: web/name: other/' "$TANK_SRC/examples/web.yaml")")" = 400 ]
  [ "$(jq -r .error "$tmp/body")" = "the body names pod other but the URL names web" ]
  [ "$(api PUT /v1/pods/Bad_Name --data-binary x)" = 400 ]
  head -c 2000000 /dev/zero | tr '\0' 'x' >"$tmp/big"
  [ "$(api PUT /v1/pods/web --data-binary @"$tmp/big")" = 413 ]
  [ "$(api GET /v1/pods/nope)" = 404 ]
  [ "$(api DELETE /v1/pods/nope)" = 404 ]
  [ "$(api GET /v1/nothing)" = 404 ]
  [ "$(api PATCH /v1/pods/web)" = 405 ]
  [ "$(api GET '/v1/events?since=x')" = 400 ]
  head -c 100000 /dev/urandom >"$tmp/junk"
  [ "$(api PUT /v1/pods/web --data-binary @"$tmp/junk")" = 400 ]
  run "$TANK" apply -f "$TANK_SRC/examples/web.yaml"
  [ "$output" = "pod/web created" ]
  kill -0 "$TANKD_PID"
}

@test "the CLI says which socket it could not reach" {
  run env TANK_SOCKET="$tmp/none.sock" "$TANK" ls
  [ "$status" -eq 1 ]
  [[ "$output" == *"cannot reach tankd at $tmp/none.sock"* ]]
}

@test "boot seeding creates absent pods and never overwrites stored ones" {
  stop_tankd
  mkdir -p "$tmp/pods.d"
  sed 's/pids: 100/pids: 7/' "$TANK_SRC/examples/web.yaml" >"$tmp/pods.d/web.yaml"
  cp "$TANK_SRC/examples/shell.yaml" "$tmp/pods.d/"
  start_tankd
  [ "$("$TANK" inspect web | jq -r .spec.containers[0].limits.pids)" = 7 ]
  "$TANK" apply -f "$TANK_SRC/examples/web.yaml"
  stop_tankd
  start_tankd
  [ "$("$TANK" inspect web | jq -r .spec.containers[0].limits.pids)" = 100 ]
  [ "$("$TANK" get -o json | jq -r '.items | length')" = 2 ]
}

@test "acknowledged applies survive kill -9 of tankd in the middle of a burst" {
  for i in $(seq 1 300); do
    printf 'name: p%d\ncontainers: [{name: c, image: busybox}]\n' "$i" >"$tmp/p$i.yaml"
  done
  (
    for i in $(seq 1 300); do
      "$TANK" apply -f "$tmp/p$i.yaml" >/dev/null 2>&1 && echo "p$i"
    done
  ) >"$tmp/acked" &
  writer=$!
  # kill once a few applies are acknowledged (bounded wait), in the middle of the burst
  for _ in $(seq 1 400); do
    [ "$(wc -l <"$tmp/acked")" -ge 10 ] && break
    sleep 0.025
  done
  kill -9 "$TANKD_PID"
  wait "$writer" || true
  wait "$TANKD_PID" 2>/dev/null || true
  acked=$(wc -l <"$tmp/acked")
  [ "$acked" -ge 10 ]
  [ "$acked" -lt 300 ]
  start_tankd
  "$TANK" get -o json | jq -r '.items[].spec.name' | sort >"$tmp/present"
  missing=$(sort "$tmp/acked" | comm -23 - "$tmp/present")
  [ -z "$missing" ] || { echo "lost: $missing"; false; }
}
