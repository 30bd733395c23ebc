#!/usr/bin/env bats
# tank-shim: the secure defaults of a container -- Docker's capabilities,
# no_new_privs, seccomp, masked /proc, read-only /sys, a minimal /dev, no
# leaked fds, and no way out of the root through a symlink planted in an image.

load helpers
load shim_helpers

setup() { shim_setup; }
teardown() { shim_teardown; }

run_fg() {
  run "$SHIM" --foreground "$T/config.json"
}

@test "security: root has exactly Docker's default capabilities; other users none" {
  shim_config '.process = {command: ["grep", "^Cap", "/proc/self/status"]}'
  run_fg
  [ "$status" -eq 0 ]
  ctr_log | grep -qx $'CapEff:\t00000000a80425fb'
  ctr_log | grep -qx $'CapPrm:\t00000000a80425fb'
  ctr_log | grep -qx $'CapBnd:\t00000000a80425fb'
  ctr_log | grep -qx $'CapInh:\t0000000000000000'
  ctr_log | grep -qx $'CapAmb:\t0000000000000000'
  rm -rf "$T/state"
  shim_config '.process = {command: ["grep", "^Cap", "/proc/self/status"], user: "app"}'
  run_fg
  ctr_log | grep -qx $'CapEff:\t0000000000000000'
  ctr_log | grep -qx $'CapBnd:\t00000000a80425fb'
}

@test "security: NoNewPrivs is 1 and Seccomp is 2; the filter refuses unshare and mount" {
  shim_config '.process = {command: ["sh", "-c", "grep -E \"^(NoNewPrivs|Seccomp):\" /proc/self/status; unshare -n true && echo unshare-ok; mount -t tmpfs x /mnt && echo mount-ok; echo done"]}'
  run_fg
  [ "$status" -eq 0 ]
  ctr_log | grep -qx $'NoNewPrivs:\t1'
  ctr_log | grep -qx $'Seccomp:\t2'
  ! ctr_log | grep -q unshare-ok
  ! ctr_log | grep -q mount-ok
  ctr_log | grep -qx done
}

@test "security: masked /proc paths are unreadable and read-only ones refuse writes" {
  shim_config '.process = {command: ["sh", "-c", "wc -c < /proc/keys; wc -c < /proc/timer_list; ls /proc/acpi | wc -l; echo tkrt > /proc/sys/kernel/domainname && echo sys-written; echo 1 > /proc/sys/vm/drop_caches && echo vm-written; echo end"]}'
  run_fg
  [ "$(ctr_log | head -n 3 | tr '\n' ' ')" = "0 0 0 " ]
  ! ctr_log | grep -q written
  ctr_log | grep -qx end
  [ "$(head -c 10 /proc/timer_list | wc -c)" -eq 10 ] # the host keeps its own
}

@test "security: /sys is read-only; /dev holds only the standard nodes" {
  shim_config '.process = {command: ["sh", "-c", "touch /sys/kernel/x && echo sys-writable; grep \" /sys \" /proc/mounts; ls /dev | tr \"\\n\" \" \"; echo; grep -E \" /dev/(pts|shm|mqueue) \" /proc/mounts | cut -d\" \" -f2,3; echo hi > /dev/null && echo null-ok; head -c 4 /dev/urandom | wc -c"]}'
  run_fg
  [ "$status" -eq 0 ]
  ! ctr_log | grep -q sys-writable
  ctr_log | grep -Eq '^sysfs /sys sysfs ro,'
  ctr_log | grep -qx 'core fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero '
  ctr_log | grep -qx '/dev/pts devpts'
  ctr_log | grep -qx '/dev/shm tmpfs'
  ctr_log | grep -qx '/dev/mqueue mqueue'
  ctr_log | grep -qx null-ok
  ctr_log | grep -qx 4
}

@test "security: only fds 0, 1 and 2 are open in the workload (also under init)" {
  # looked at from the host, so that the looking opens nothing in the container
  fds_of() { ls "/proc/$1/fd" | sort -n | tr '\n' ' '; }
  shim_config '.process = {command: ["sleep", "30"]} | .stop.timeout_ms = 100'
  run "$SHIM" "$T/config.json"
  [ "$status" -eq 0 ]
  pid=$output
  [ "$(fds_of "$pid")" = "0 1 2 " ]
  shim_pid=$(jq -r .shim_pid "$T/state/state.json")
  kill -TERM "$shim_pid"
  for _ in $(seq 1 100); do kill -0 "$shim_pid" 2>/dev/null || break; sleep 0.05; done
  rm -rf "$T/state"
  shim_config '.process = {command: ["sleep", "30"], init: true} | .stop.timeout_ms = 100'
  run "$SHIM" "$T/config.json"
  [ "$status" -eq 0 ]
  pid=$output
  for _ in $(seq 1 100); do [ -n "$(cat "/proc/$pid/task/$pid/children")" ] && break; sleep 0.05; done
  child=$(cat "/proc/$pid/task/$pid/children" | tr -d ' ')
  [ "$(fds_of "$pid")" = "0 1 2 " ]   # the reaper
  [ "$(fds_of "$child")" = "0 1 2 " ] # the workload
  shim_pid=$(jq -r .shim_pid "$T/state/state.json")
  kill -TERM "$shim_pid"
  for _ in $(seq 1 100); do kill -0 "$shim_pid" 2>/dev/null || break; sleep 0.05; done
}

@test "security: a planted /etc/hosts -> host file symlink does not escape" {
  echo HOST-CONTENT >"$T/host-file"
  mkdir -p "$T/evil/etc"
  ln -s "$T/host-file" "$T/evil/etc/hosts"
  ln -s "$T/host-file" "$T/evil/etc/resolv.conf"
  EXTRA_LAYERS=("$T/evil")
  shim_config '.process = {command: ["sh", "-c", "cat /etc/hosts /etc/resolv.conf; echo pwned > /etc/hosts"]}'
  run_fg
  [ "$status" -eq 0 ]
  ctr_log | grep -qx '10.9.9.9 tkrt-pod'
  ctr_log | grep -qx 'nameserver 10.9.9.1'
  [ "$(cat "$T/host-file")" = HOST-CONTENT ]
  [ -L "$T/evil/etc/hosts" ] # the image layer itself is untouched
}

@test "security: a volume target behind a symlink pointing out stays inside the root" {
  mkdir -p "$T/hostdir" "$T/vol" "$T/evil"
  echo in-volume >"$T/vol/file"
  ln -s "$T/hostdir" "$T/evil/data"       # /data -> a host path
  ln -s ../../../../../.. "$T/evil/up"     # /up -> ../.. (climbs past the root)
  EXTRA_LAYERS=("$T/evil")
  shim_config '.process = {command: ["sh", "-c", "cat /data/sub/file; cat /up/x/file"]}
               | .mounts = [{source: "'"$T"'/vol", destination: "/data/sub"},
                            {source: "'"$T"'/vol", destination: "/up/x", read_only: true}]'
  run_fg
  [ "$status" -eq 0 ]
  [ "$(ctr_log | tr '\n' ' ')" = "in-volume in-volume " ]
  [ -z "$(ls -A "$T/hostdir")" ]
  [ ! -e /x ]
}

@test "security: read-only volumes refuse writes; writable ones reach the host dir" {
  mkdir -p "$T/ro" "$T/rw"
  shim_config '.process = {command: ["sh", "-c", "echo a > /ro/f && echo ro-written; echo b > /rw/f && echo rw-written"]}
               | .mounts = [{source: "'"$T"'/ro", destination: "/ro", read_only: true},
                            {source: "'"$T"'/rw", destination: "/rw"}]'
  run_fg
  ! ctr_log | grep -q ro-written
  ctr_log | grep -qx rw-written
  [ "$(cat "$T/rw/f")" = b ]
  [ ! -e "$T/ro/f" ]
}

@test "security: the pod's hostname and namespaces are the container's own" {
  shim_config '.process = {command: ["sh", "-c", "hostname; cat /etc/hostname; echo $$; ls /sys/class/net | tr \"\\n\" \" \"; echo"]}'
  run_fg
  [ "$(ctr_log | tr '\n' '|')" = "tkrt-pod|tkrt-pod|1|lo |" ]
}

@test "security: a node made for the host's disk cannot be opened (device rules)" {
  # (made in /dev: the overlay root is nodev anyway)
  [ -d "$CG_ROOT/devices" ] || skip "no v1 devices hierarchy (v2 device rules need BPF; not done)"
  mm=$(findmnt -no MAJ:MIN / | tr -d ' ')
  shim_config '.process = {command: ["sh", "-c", "mknod /dev/disk b '"${mm%:*} ${mm#*:}"' && echo made; head -c 512 /dev/disk | wc -c; echo x > /dev/null && echo null-ok"]}'
  run "$SHIM" --foreground "$T/config.json"
  ctr_log | grep -qx made
  ctr_log | grep -q "Operation not permitted"
  ctr_log | grep -qx null-ok
}
