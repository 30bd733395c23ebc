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
