# Shared helpers for Tank's bats end-to-end tests.
# TANK_BUILD: the build dir with the binaries (scripts/test.sh sets it to the
# sanitizer build); TANK_SRC: the source tree.

TANK_SRC=${TANK_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TANK_BUILD=${TANK_BUILD:-$TANK_SRC/build}
TANK=$TANK_BUILD/tank
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

# Skip a test that needs root when not root.
require_root() {
  [ "$(id -u)" -eq 0 ] || skip "needs root"
}

# A fresh temporary directory for this test, removed by the caller's teardown.
make_tmp() {
  mktemp -d "${BATS_TMPDIR:-/tmp}/tank-e2e.XXXXXX"
}
bats_require_minimum_version 1.5.0

# Starts tankd on a fresh embedded store in $tmp (its own run dir, socket and
# data dir) and waits until its API answers. Sets TANKD_PID and TANK_SOCKET.
start_tankd() {
  export TANK_DATA_DIR=$tmp/data TANK_RUN_DIR=$tmp/run TANK_PODS_DIR=${TANK_PODS_DIR:-$tmp/pods.d}
  export TANK_CONFIG=/dev/null TANK_SOCKET=$tmp/run/tank.sock
  ${TANKD_WRAP:-} "$TANK_BUILD/tankd" "$@" >>"$tmp/tankd.log" 2>&1 &
  TANKD_PID=$!
  for _ in $(seq 1 200); do
    [ -S "$TANK_SOCKET" ] && "$TANK" version >/dev/null 2>&1 && curl -sf --unix-socket "$TANK_SOCKET" http://t/v1/version >/dev/null && return 0
    kill -0 "$TANKD_PID" 2>/dev/null || { cat "$tmp/tankd.log"; return 1; }
    sleep 0.05
  done
  echo "tankd did not come up"; cat "$tmp/tankd.log"; return 1
}

stop_tankd() {
  if [ -n "${TANKD_PID:-}" ] && kill -0 "$TANKD_PID" 2>/dev/null; then
    kill -TERM "$TANKD_PID"
    wait "$TANKD_PID" 2>/dev/null || true
  fi
  TANKD_PID=
}
