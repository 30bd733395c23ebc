#!/usr/bin/env bats
# tank-shim + cgroups, for real on this host's hierarchy (v1/hybrid here):
# memory limit with OOM kill reported, pids limit stopping a fork loop, cpu
# quota throttling a busy loop, and a limit that cannot be applied failing.
# The same checks run against pure cgroup v2 in a VM (cgroup_v2_vm.bats).

load helpers
load shim_helpers

setup() { shim_setup; }
teardown() { shim_teardown; }

@test "limits: a memory hog over its limit is OOM-killed and reported as such" {
  # busybox tail buffers a "line" of /dev/zero that never ends
  shim_config '.process = {command: ["tail", "/dev/zero"]} | .cgroup.limits = {memory_bytes: 33554432}'
  run "$SHIM" --foreground "$T/config.json"
  [ "$status" -eq 137 ]
  [ "$(exit_field .signal)" = 9 ]
  [ "$(exit_field .oom_killed)" = true ]
  [ "$(exit_field .cgroup_stats.oom_kills)" -ge 1 ]
  peak=$(exit_field .cgroup_stats.memory_peak_bytes)
  [ "$peak" -le 33554432 ]
  [ "$peak" -gt 16000000 ]
}

@test "limits: a fork loop stops at the pids limit" {
  # The loop runs in a subshell, which dies at the first fork refused; PID 1
  # then reports and sleeps (exec: no fork needed) while the host looks.
  shim_config '.process = {command: ["sh", "-c", "(i=0; while [ $i -lt 60 ]; do sleep 30 & i=$((i+1)); done) 2>/dev/null; echo done-forking; exec sleep 30"]}
               | .cgroup.limits = {pids: 16} | .stop.timeout_ms = 100'
  run "$SHIM" "$T/config.json"
  [ "$status" -eq 0 ]
  SHIM_PID=$(jq -r .shim_pid "$T/state/state.json")
  for _ in $(seq 1 100); do ctr_log | grep -q done-forking && break; sleep 0.05; done
  ctr_log | grep -q done-forking
  current=$(cat "$CG_ROOT/pids/$CG/pids.current")
  [ "$current" -le 16 ]
  [ "$current" -ge 14 ]
  grep -Eq '^max [1-9]' "$CG_ROOT/pids/$CG/pids.events"
  kill -TERM "$SHIM_PID"
  for _ in $(seq 1 100); do kill -0 "$SHIM_PID" 2>/dev/null || break; sleep 0.05; done
  [ "$(exit_field .signal)" = 9 ]
}

@test "limits: a busy loop under cpu 0.2 is throttled" {
  shim_config '.process = {command: ["sh", "-c", "while :; do :; done & sleep 1; kill $!"]}
               | .cgroup.limits = {cpu_quota_us: 20000, cpu_period_us: 100000}'
  run "$SHIM" --foreground "$T/config.json"
  [ "$(exit_field .cgroup_stats.cpu_nr_throttled)" -ge 3 ]
  usage=$(exit_field .cgroup_stats.cpu_usage_us)
  # 1 s of wall time at 20 % of a CPU: well under half a second of CPU
  [ "$usage" -lt 450000 ]
  [ "$usage" -gt 50000 ]
}

@test "limits: a limit that cannot be applied is an error, not silently dropped" {
  # this host's cgroup2 mount has no memory controller
  shim_config '.cgroup.root = "/sys/fs/cgroup/unified" | .cgroup.version = "v2"
               | .cgroup.limits = {memory_bytes: 33554432}'
  run "$SHIM" --foreground "$T/config.json"
  [ "$status" -eq 125 ]
  exit_field .error | grep -q '^stage=cgroup errno=ENODEV: create cgroup .*: the memory controller is not available'
  [ ! -d "/sys/fs/cgroup/unified/$CG" ]
  rmdir /sys/fs/cgroup/unified/tank-tkrt-test 2>/dev/null || true
}

@test "limits: the container's processes are in its cgroup and stats read back" {
  shim_config '.process = {command: ["sh", "-c", "cat /proc/self/cgroup"]} | .cgroup.limits = {pids: 50}'
  run "$SHIM" --foreground "$T/config.json"
  [ "$status" -eq 0 ]
  # its own cgroup namespace: it sees itself at the root of every hierarchy
  ctr_log | grep -q '^[0-9]*:pids:/$'
  ctr_log | grep -q '^[0-9]*:memory:/$'
  [ "$(exit_field .cgroup_stats.cpu_usage_us)" -gt 0 ]
}
