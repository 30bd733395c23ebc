# Helpers for e2e tests of pods run by a real tankd: the busybox fixture image
# served by a loopback registry (port $POD_REG_PORT), a tankd per test in its own
# temp dirs and cgroup root, and a teardown that removes whatever is left.
load helpers

FIXTURES=$TANK_SRC/tests/fixtures
POD_REG_PORT=${POD_REG_PORT:-5195}
IMAGE=127.0.0.1:$POD_REG_PORT/tank/busybox:latest

pods_setup_file() {
  require_root
  POD_TMP=$(mktemp -d /tmp/tkpod-e2e.XXXXXX)
  export POD_TMP
  bash "$FIXTURES/build-images.sh" "$POD_TMP/fx" busybox >"$POD_TMP/fixtures.log" 2>&1 ||
    { cat "$POD_TMP/fixtures.log"; return 1; }
  bash "$FIXTURES/registry.sh" start "$POD_TMP/reg" "$POD_REG_PORT" plain >/dev/null
  skopeo copy -q --dest-tls-verify=false "oci:$POD_TMP/fx/oci:busybox" "docker://$IMAGE"
}

pods_teardown_file() {
  [ -n "${POD_TMP:-}" ] || return 0
  bash "$FIXTURES/registry.sh" stop "$POD_TMP/reg" || true
  rm -rf "$POD_TMP"
}

pods_setup() {
  require_root
  tmp=$(make_tmp)
  export TANK_CGROUP_ROOT=tank-e2e-$$-${BATS_TEST_NUMBER}
  start_tankd
}

# Kills every shim and container left under the run dir, unmounts what is
# mounted below $tmp and removes the test's cgroups.
pods_cleanup() {
  local f p
  for f in "$tmp"/run/pods/*/*/state.json; do
    [ -f "$f" ] || continue
    for p in $(jq -r '.shim_pid, .pid' "$f"); do
      [[ "$p" =~ ^[0-9]+$ ]] && [ "$p" -gt 1 ] && kill -9 "$p" 2>/dev/null
    done
  done
  for f in /sys/fs/cgroup/*/"$TANK_CGROUP_ROOT" /sys/fs/cgroup/"$TANK_CGROUP_ROOT"; do
    [ -d "$f" ] || continue
    for p in $(find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null); do
      [ "$p" -gt 1 ] && kill -9 "$p" 2>/dev/null
    done
  done
  sleep 0.1
  grep " $tmp/" /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  for f in /sys/fs/cgroup/*/"$TANK_CGROUP_ROOT" /sys/fs/cgroup/"$TANK_CGROUP_ROOT"; do
    [ -d "$f" ] && find "$f" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  true
}

pods_teardown() {
  stop_tankd
  pods_cleanup
  rm -rf "$tmp"
}

# pod_file NAME RESTART SCRIPT [EXTRA_YAML]: a one-container pod running `sh -c SCRIPT`.
pod_file() {
  local name=$1 restart=$2 script=$3 extra=${4:-}
  cat >"$tmp/$name.yaml" <<EOF
name: $name
restart: $restart
backoff: {initial: 200ms, max: 2s, reset_after: 3s}
containers:
  - name: main
    image: $IMAGE
    command: [/bin/sh, -c, "$script"]
    stop_timeout: 2s
$extra
EOF
  echo "$tmp/$name.yaml"
}

status() { # NAME JQ
  "$TANK" inspect "$1" | jq -r ".status$2"
}

# wait_for NAME JQ VALUE [SECONDS]: polls the pod's status until .status JQ == VALUE.
wait_for() {
  local name=$1 q=$2 want=$3 secs=${4:-10} i
  for i in $(seq $((secs * 20))); do
    [ "$(status "$name" "$q" 2>/dev/null)" = "$want" ] && return 0
    sleep 0.05
  done
  echo "pod $name: .status$q is $(status "$name" "$q" 2>&1), not $want after ${secs}s" >&2
  "$TANK" inspect "$name" >&2 || true
  grep -A40 "ERROR: AddressSanitizer\|runtime error" "$tmp/tankd.log" >&2 || tail -20 "$tmp/tankd.log" >&2
  return 1
}

# wait_ge NAME JQ N [SECONDS]: polls until the number .status JQ >= N.
wait_ge() {
  local name=$1 q=$2 want=$3 secs=${4:-10} i v
  for i in $(seq $((secs * 20))); do
    v=$(status "$name" "$q" 2>/dev/null)
    [[ "$v" =~ ^[0-9]+$ ]] && [ "$v" -ge "$want" ] && return 0
    sleep 0.05
  done
  echo "pod $name: .status$q is $(status "$name" "$q" 2>&1), not >= $want after ${secs}s" >&2
  grep -A40 "ERROR: AddressSanitizer\|runtime error" "$tmp/tankd.log" >&2 || tail -20 "$tmp/tankd.log" >&2
  return 1
}

cpid() { # NAME [INDEX]
  status "$1" ".containers[${2:-0}].pid"
}

# Nothing of pod NAME left: state dirs, mounts, cgroups, data dirs.
assert_pod_gone() {
  local name=$1
  [ ! -e "$tmp/run/pods/$name" ] || { echo "left: $tmp/run/pods/$name" >&2; return 1; }
  ! grep -q "$tmp/run/pods/$name/" /proc/mounts || { echo "left: mounts" >&2; return 1; }
  local c
  for c in /sys/fs/cgroup/*/"$TANK_CGROUP_ROOT"/"$name" /sys/fs/cgroup/"$TANK_CGROUP_ROOT"/"$name"; do
    [ ! -e "$c" ] || { echo "left: $c" >&2; return 1; }
  done
  for c in volumes logs containers; do
    [ ! -e "$tmp/data/$c/$name" ] || { echo "left: $tmp/data/$c/$name" >&2; return 1; }
  done
}
