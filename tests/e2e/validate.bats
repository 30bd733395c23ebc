#!/usr/bin/env bats
# `tank validate`: works without a daemon, names every error with FILE:LINE:COL,
# prints canonical forms, and exits 0 / 1 / 2 as scripts expect.

load helpers

setup() {
  tmp=$(make_tmp)
}

teardown() {
  rm -rf "$tmp"
}

@test "every example validates" {
  for f in "$TANK_SRC"/examples/*.yaml "$TANK_SRC"/examples/*.json; do
    run "$TANK" validate -f "$f"
    [ "$status" -eq 0 ] || { echo "$f: $output"; false; }
    [[ "$output" == pod/*" valid" ]]
  done
}

@test "several files and a multi-document stream are validated one by one" {
  printf 'name: a\ncontainers: [{name: c, image: busybox}]\n---\nname: b\ncontainers: [{name: c, image: busybox}]\n' >"$tmp/two.yaml"
  run "$TANK" validate -f "$tmp/two.yaml" -f "$TANK_SRC/examples/shell.yaml"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "pod/a valid" ]
  [ "${lines[1]}" = "pod/b valid" ]
  [ "${lines[2]}" = "pod/shell valid" ]
}

@test "errors go to stderr as FILE:LINE:COL: path: reason, all of them, exit 1" {
  cat >"$tmp/bad.yaml" <<'YAML'
name: web
containers:
  - name: app
    image: busybox
    limits: {memory: 12Q, pids: 0}
    mounts: [{volume: nope, path: /x}]
YAML
  run --separate-stderr "$TANK" validate -f "$tmp/bad.yaml"
  [ "$status" -eq 1 ]
  [ -z "$output" ]
  [ "${#stderr_lines[@]}" -eq 3 ]
  [[ "${stderr_lines[0]}" == "$tmp/bad.yaml:5:22: containers[0].limits.memory: \`12Q\`: unknown memory suffix"* ]]
  [[ "${stderr_lines[1]}" == "$tmp/bad.yaml:5:33: containers[0].limits.pids: must be positive" ]]
  [[ "${stderr_lines[2]}" == "$tmp/bad.yaml:6:23: containers[0].mounts[0].volume: no volume named \`nope\`"* ]]
}

@test "a valid and an invalid document: the valid one is reported, exit 1" {
  printf 'name: ok\ncontainers: [{name: c, image: busybox}]\n---\nname: NO\ncontainers: [{name: c, image: busybox}]\n' >"$tmp/mixed.yaml"
  run --separate-stderr "$TANK" validate "$tmp/mixed.yaml"
  [ "$status" -eq 1 ]
  [ "$output" = "pod/ok valid" ]
  [[ "$stderr" == "$tmp/mixed.yaml:4:7: name: \`NO\` is not a DNS label"* ]]
}

@test "standard input with -f -" {
  run bash -c "printf '{\"name\": \"j\", \"containers\": [{\"name\": \"c\", \"image\": \"busybox\"}]}' | '$TANK' validate -f -"
  [ "$status" -eq 0 ]
  [ "$output" = "pod/j valid" ]
  run bash -c "printf 'name: j\nbogus: 1\n' | '$TANK' validate -f - 2>&1"
  [ "$status" -eq 1 ]
  [[ "$output" == *"<stdin>:2:1: bogus: unknown field"* ]]
}

@test "-o json prints the canonical form, which validates again to the same bytes" {
  run --separate-stderr "$TANK" validate -o json -f "$TANK_SRC/examples/web.yaml"
  [ "$status" -eq 0 ]
  echo "$output" >"$tmp/web.json"
  [ "$(jq -r .containers[0].limits.memory "$tmp/web.json")" = 67108864 ]
  [ "$(jq -r .containers[0].limits.cpu.quota_us "$tmp/web.json")" = 50000 ]
  [ "$(jq -r '.backoff.initial' "$tmp/web.json")" = 1s ]
  run "$TANK" validate -o json -f "$tmp/web.json"
  [ "$status" -eq 0 ]
  [ "$output" = "$(cat "$tmp/web.json")" ]
}

@test "-o yaml prints YAML that validates to the same canonical form" {
  "$TANK" validate -o yaml -f "$TANK_SRC/examples/k8s-pod.yaml" >"$tmp/k.yaml"
  grep -q '^restart: on-failure$' "$tmp/k.yaml"
  grep -q '^  user: "1000:1000"$' "$tmp/k.yaml"
  a=$("$TANK" validate -o json -f "$TANK_SRC/examples/k8s-pod.yaml")
  b=$("$TANK" validate -o json -f "$tmp/k.yaml")
  [ "$a" = "$b" ]
}

@test "a Kubernetes field Tank does not support is named, not dropped" {
  cat >"$tmp/k.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: x}
spec:
  containers:
    - name: c
      image: busybox
      livenessProbe: {exec: {command: [true]}}
YAML
  run --separate-stderr "$TANK" validate "$tmp/k.yaml"
  [ "$status" -eq 1 ]
  [ "$stderr" = "$tmp/k.yaml:8:7: spec.containers[0].livenessProbe: Kubernetes field not supported by Tank" ]
}

@test "hostile input gets an error, not a crash: huge, deep, bomb, binary" {
  head -c 10485760 /dev/zero | tr '\0' ' ' >"$tmp/huge.yaml"
  run "$TANK" validate "$tmp/huge.yaml"
  [ "$status" -eq 1 ]
  [[ "$output" == *"larger than 1048576 bytes"* ]]

  python3 -c "print('[' * 50000 + ']' * 50000)" >"$tmp/deep.yaml"
  run "$TANK" validate "$tmp/deep.yaml"
  [ "$status" -eq 1 ]
  [[ "$output" == *"nested deeper than 64 levels"* ]]

  python3 - "$tmp/bomb.yaml" <<'PY'
import sys
lines = ["a0: &a0 [" + ", ".join(["lol"] * 10) + "]"]
for i in range(1, 10):
    lines.append("a%d: &a%d [%s]" % (i, i, ", ".join(["*a%d" % (i - 1)] * 10)))
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY
  run "$TANK" validate "$tmp/bomb.yaml"
  [ "$status" -eq 1 ]
  [[ "$output" == *"document too large"* ]]

  head -c 4096 /dev/urandom >"$tmp/random.yaml"
  run "$TANK" validate "$tmp/random.yaml"
  [ "$status" -eq 1 ]
}

@test "usage errors exit 2; --help and version exit 0" {
  run "$TANK" validate
  [ "$status" -eq 2 ]
  run "$TANK" validate -o xml -f x
  [ "$status" -eq 2 ]
  run "$TANK" nosuchverb
  [ "$status" -eq 2 ]
  run "$TANK" validate --help
  [ "$status" -eq 0 ]
  [[ "$output" == Usage:\ tank\ validate* ]]
  run "$TANK" --help
  [ "$status" -eq 0 ]
  [[ "$output" == *validate* ]]
  run "$TANK" version
  [ "$status" -eq 0 ]
  [[ "$output" =~ ^tank\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
  run "$TANK" validate -f /nonexistent.yaml
  [ "$status" -eq 1 ]
  [[ "$output" == *"open \`/nonexistent.yaml\`: No such file or directory"* ]]
}
