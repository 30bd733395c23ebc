#!/usr/bin/env bats
# The cgroup v2 driver for real: this host's cgroup2 mount has no controllers,
# so Debian's stock kernel boots under qemu (TCG) with pure cgroup v2 and runs
# the limit tests there (tests/vm/). Each VM test is one line of output here.

load helpers
load shim_helpers

@test "cgroup v2 (VM): memory OOM kill, pids limit, cpu throttling, cgroup.kill, device rules, pivot_root stage" {
  require_root
  command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
  shim_fixture
  work=$(mktemp -d /tmp/tkrt-vm.XXXXXX)
  run bash "$TANK_SRC/tests/vm/cgroup-v2-vm.sh" "$TANK_BUILD/tank-shim" "$FIXTURE" "$work"
  echo "$output"
  rm -rf "$work"
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | grep -c '^ok ')" -eq 7 ]
}
