#!/bin/sh
# The limit tests on pure cgroup v2 (inside the VM, busybox only).
CG=/sys/fs/cgroup/tank-tkrt-test
export ASAN_OPTIONS=detect_leaks=0
n=1
check() { # name, command...
  name=$1; shift
  n=$((n + 1))
  if "$@"; then echo "ok $n - v2: $name"; else echo "not ok $n - v2: $name"; fi
}
field() { grep "\"$2\":" "/t/$1/state/exit.json" | sed -E 's/.*: ([^,]*),?$/\1/'; }
cleaned() { [ ! -d "$CG/$1" ] && [ ! -e "/t/$1/upper" ] && [ ! -e "/t/$1/work" ]; }

t_memory() {
  tank-shim --foreground /t/memory.json >/dev/null 2>&1
  [ $? -eq 137 ] && [ "$(field memory oom_killed)" = true ] && [ "$(field memory signal)" = 9 ] &&
    [ "$(field memory oom_kills)" -ge 1 ] && cleaned memory
}
t_pids() {
  tank-shim /t/pids.json >/dev/null || return 1
  i=0
  while ! grep -q done-forking /t/pids/state/container.log 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 400 ] && return 1; sleep 0.05
  done
  cur=$(cat $CG/pids/pids.current)
  grep -q '^max [1-9]' $CG/pids/pids.events || return 1
  kill -TERM "$(grep '"shim_pid"' /t/pids/state/state.json | sed -E 's/[^0-9]//g')"
  i=0
  while [ ! -e /t/pids/state/exit.json ] || [ -d $CG/pids ]; do
    i=$((i + 1)); [ $i -gt 400 ] && return 1; sleep 0.05
  done
  [ "$cur" -le 16 ] && [ "$cur" -ge 14 ] && cleaned pids
}
t_cpu() {
  tank-shim --foreground /t/cpu.json >/dev/null 2>&1
  thr=$(field cpu cpu_nr_throttled); use=$(field cpu cpu_usage_us)
  echo "# cpu: nr_throttled=$thr usage_us=$use"
  [ "$thr" -ge 3 ] && [ "$use" -lt 450000 ] && cleaned cpu
}
t_cgns() {
  tank-shim --foreground /t/cgns.json >/dev/null 2>&1
  [ "$(sed -E 's/^[^ ]+ stdout F //' /t/cgns/state/container.log)" = "0::/" ] && cleaned cgns
}
t_devices() {
  tank-shim --foreground /t/devices.json >/dev/null 2>&1
  log=/t/devices/state/container.log
  grep -q ' made$' $log && grep -q 'Operation not permitted' $log && grep -q ' null-ok$' $log &&
    cleaned devices
}
t_stop() {
  tank-shim /t/stop.json >/dev/null || return 1
  kill -TERM "$(grep '"shim_pid"' /t/stop/state/state.json | sed -E 's/[^0-9]//g')"
  i=0
  while [ ! -e /t/stop/state/exit.json ] || [ -d $CG/stop ]; do
    i=$((i + 1)); [ $i -gt 400 ] && return 1; sleep 0.05
  done
  [ "$(field stop signal)" = 9 ] && cleaned stop
}
check "a memory hog over its limit is OOM-killed and reported" t_memory
check "a fork loop stops at the pids limit" t_pids
check "a busy loop under cpu 0.2 is throttled" t_cpu
check "CLONE_INTO_CGROUP: the container is at the root of its cgroup namespace" t_cgns
check "stop: grace then cgroup.kill" t_stop
check "device rules (BPF): mknod yes, opening a device outside the list no" t_devices
