#!/usr/bin/env bash
# bench/apply: (a) `tank apply` of one pod until its workload has exec'd, beside
# `crun run -d` and `podman run -d --runtime runc` of the same image, command and
# namespaces, in one hyperfine run; (b) 200 pods in one apply: time until all
# run, tankd and shim memory after convergence, tankd CPU over 30 idle seconds,
# then delete all and check that nothing is left.
#
# The exec is detected the same way for all three: a host FIFO bind-mounted at
# /sig, and the workload `sh -c 'echo up >/sig/fifo; exec sleep 1000'`. The timed
# command is "apply/run, then read one line from the FIFO"; removing the previous
# pod/container is hyperfine's --prepare, outside the timed part.
#
# crun 1.8 refuses the hybrid hierarchy, so the hyperfine run happens inside
# `unshare -m` with /sys/fs/cgroup/unified unmounted (FACTS.md); tankd runs
# outside (only the client is in there).
# Usage: bench/apply.sh [RUNS] [PODS]   (root; the release build in build/)
set -euo pipefail
runs=${1:-40}
npods=${2:-200}
idle_s=${IDLE_SECONDS:-30}
src=$(cd "$(dirname "$0")/.." && pwd)
build=${TANK_BUILD:-$src/build}
tank=$build/tank
port=${BENCH_REG_PORT:-5297}
cgroot=tank-bench-apply
[ "$(id -u)" -eq 0 ] || { echo "bench/apply.sh: needs root" >&2; exit 1; }
[ -x "$build/tankd" ] || { echo "build first: meson setup build --buildtype=release && meson compile -C build" >&2; exit 1; }
for c in /sys/fs/cgroup/*/"$cgroot"; do
  [ -d "$c" ] && { echo "bench/apply.sh: $c exists (another run?)" >&2; exit 1; }
done
work=$(mktemp -d /tmp/tkapply-bench.XXXXXX)
export TANK_DATA_DIR=$work/data TANK_RUN_DIR=$work/run TANK_PODS_DIR=$work/pods.d
export TANK_CONFIG=/dev/null TANK_SOCKET=$work/run/tank.sock TANK_CGROUP_ROOT=$cgroot
export CONTAINERS_CONF=$work/containers.conf
podman=(podman --root "$work/podman/root" --runroot "$work/podman/run" --storage-driver overlay
  --cgroup-manager cgroupfs --runtime runc --events-backend file --tmpdir "$work/podman/tmp")
tankd_pid=

# Everything the bench made: tankd and the registry (by pid), shims and
# containers (by state file and cgroup), mounts below $work, the bench cgroups.
cleanup() {
  set +e
  local f p
  if [ -n "$tankd_pid" ] && kill -0 "$tankd_pid" 2>/dev/null; then
    kill -TERM "$tankd_pid"
    wait "$tankd_pid" 2>/dev/null
  fi
  [ -d "$work/podman" ] && "${podman[@]}" rm -f -a -t 0 >/dev/null 2>&1
  [ -d "$work/crun-state" ] && crun --root "$work/crun-state" delete -f b-crun >/dev/null 2>&1
  for f in "$work"/run/pods/*/*/state.json; do
    [ -f "$f" ] || continue
    for p in $(jq -r '.shim_pid, .pid' "$f"); do
      [[ "$p" =~ ^[0-9]+$ ]] && [ "$p" -gt 1 ] && kill -9 "$p" 2>/dev/null
    done
  done
  for f in /sys/fs/cgroup/*/"$cgroot"; do
    [ -d "$f" ] || continue
    for p in $(find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null); do
      [ "$p" -gt 1 ] && kill -9 "$p" 2>/dev/null
    done
  done
  sleep 0.2
  grep " $work/" /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r -n1 umount -l 2>/dev/null
  for f in /sys/fs/cgroup/*/"$cgroot"; do
    [ -d "$f" ] && find "$f" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  bash "$src/tests/fixtures/registry.sh" stop "$work/reg" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '%s\n' "$*" >&2; }
ms_now() { echo $(($(date +%s%N) / 1000000)); }

# --- The image: the busybox fixture, served by a loopback registry for tankd,
# unpacked as a bundle for crun, copied into a private podman store.
log "building the busybox fixture image"
bash "$src/tests/fixtures/build-images.sh" "$work/fx" busybox >"$work/fixtures.log" 2>&1 ||
  { cat "$work/fixtures.log" >&2; exit 1; }
bash "$src/tests/fixtures/registry.sh" start "$work/reg" "$port" plain >/dev/null
image=127.0.0.1:$port/tank/busybox:bench
skopeo copy -q --dest-tls-verify=false "oci:$work/fx/oci:busybox" "docker://$image"

mkdir -p "$work/sig" "$work/podman/tmp"
mkfifo "$work/sig/fifo"
script='echo up >/sig/fifo; exec sleep 1000'

cat >"$CONTAINERS_CONF" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
events_logger = "file"
EOF
skopeo copy -q "oci:$work/fx/oci:busybox" \
  "containers-storage:[overlay@$work/podman/root+$work/podman/run]localhost/busybox:bench"

umoci unpack --image "$work/fx/oci:busybox" "$work/crun" >/dev/null
jq --arg cg "$cgroot/crun" --arg sig "$work/sig" --arg s "$script" '
    .process.args = ["/bin/sh", "-c", $s] | .process.terminal = false
  | .linux.namespaces = [{type: "pid"}, {type: "network"}, {type: "ipc"}, {type: "uts"},
                         {type: "mount"}, {type: "cgroup"}]
  | .linux.cgroupsPath = $cg | .hostname = "bench"
  | .mounts += [{destination: "/sig", type: "bind", source: $sig, options: ["rbind", "rw"]}]' \
  "$work/crun/config.json" >"$work/crun/config.json.new"
mv "$work/crun/config.json.new" "$work/crun/config.json"

# --- tankd, and the pod of part (a).
mkdir -p "$work/run"
"$build/tankd" >>"$work/tankd.log" 2>&1 &
tankd_pid=$!
for _ in $(seq 200); do
  [ -S "$TANK_SOCKET" ] && curl -sf --unix-socket "$TANK_SOCKET" http://t/v1/version >/dev/null && break
  kill -0 "$tankd_pid" 2>/dev/null || { cat "$work/tankd.log" >&2; exit 1; }
  sleep 0.05
done
rss0_kib=$(awk '$1 == "VmRSS:" {print $2}' "/proc/$tankd_pid/status")

cat >"$work/a.yaml" <<EOF
name: bench-a
restart: never
volumes: [{name: sig, host: $work/sig}]
containers:
  - name: main
    image: $image
    command: [/bin/sh, -c, "$script"]
    mounts: [{volume: sig, path: /sig}]
    stop_signal: KILL
    stop_timeout: 1s
EOF

# Sanity and warm-up (tankd pulls the image on first use): each runtime really
# runs the workload in new namespaces.
check_ns() { # LABEL PID
  local ns
  for ns in mnt pid net ipc uts cgroup; do
    [ "$(readlink "/proc/$2/ns/$ns")" != "$(readlink /proc/self/ns/$ns)" ] ||
      { log "$1: workload shares the host's $ns namespace"; exit 1; }
  done
}
"$tank" apply -f "$work/a.yaml" >/dev/null
timeout 60 head -n1 "$work/sig/fifo" >/dev/null || { log "tank: no exec in 60 s"; tail "$work/tankd.log" >&2; exit 1; }
sleep 0.2
check_ns tank "$("$tank" inspect bench-a | jq -r '.status.containers[0].pid')"
"$tank" delete --wait bench-a >/dev/null

# crun and podman: the same check, inside the mount namespace of the benchmark.
cat >"$work/peers.sh" <<'EOF2'
set -eu
w=$1 cgroot=$2 script=$3
shift 3
umount /sys/fs/cgroup/unified 2>/dev/null || true
check_ns() {
  for ns in pid net ipc uts cgroup; do
    [ "$(readlink "/proc/$2/ns/$ns")" != "$(readlink /proc/self/ns/$ns)" ] ||
      { echo "$1: workload shares the host's $ns namespace" >&2; exit 1; }
  done
}
crun --root "$w/crun-state" run -d --bundle "$w/crun" b-crun >/dev/null
timeout 20 head -n1 "$w/sig/fifo" >/dev/null
check_ns crun "$(crun --root "$w/crun-state" state b-crun | jq -r .pid)"
crun --root "$w/crun-state" delete -f b-crun
"$@" run -d --name b-podman --pull never --network none --cgroupns private \
  --cgroup-parent "/$cgroot/podman" --image-volume ignore -v "$w/sig:/sig" \
  --entrypoint /bin/sh localhost/busybox:bench -c "$script" >/dev/null
timeout 20 head -n1 "$w/sig/fifo" >/dev/null
check_ns podman "$("$@" inspect -f '{{.State.Pid}}' b-podman)"
"$@" rm -f -t 0 b-podman >/dev/null
EOF2
unshare -m bash ${BENCH_TRACE:+-x} "$work/peers.sh" "$work" "$cgroot" "$script" "${podman[@]}" ||
  { log "crun or podman failed"; exit 1; }
log "sanity: tank, crun and podman run the workload in new namespaces"

# --- (a) one pod: apply → exec, beside crun and podman, in one hyperfine run.
# Each timed command is a two-line sh script, so all three pay the same shell.
cat >"$work/t-tank.sh" <<EOF2
#!/bin/sh
"$tank" apply -f "$work/a.yaml" >/dev/null && read -r l <"$work/sig/fifo"
EOF2
cat >"$work/p-tank.sh" <<EOF2
#!/bin/sh
"$tank" delete --wait bench-a >/dev/null 2>&1; true
EOF2
cat >"$work/t-crun.sh" <<EOF2
#!/bin/sh
crun --root "$work/crun-state" run -d --bundle "$work/crun" b-crun >/dev/null && read -r l <"$work/sig/fifo"
EOF2
cat >"$work/p-crun.sh" <<EOF2
#!/bin/sh
crun --root "$work/crun-state" delete -f b-crun >/dev/null 2>&1; true
EOF2
cat >"$work/t-podman.sh" <<EOF2
#!/bin/sh
${podman[*]} run -d --name b-podman --pull never --network none --cgroupns private \\
  --cgroup-parent /$cgroot/podman --image-volume ignore -v $work/sig:/sig \\
  --entrypoint /bin/sh localhost/busybox:bench -c '$script' >/dev/null && read -r l <"$work/sig/fifo"
EOF2
cat >"$work/p-podman.sh" <<EOF2
#!/bin/sh
${podman[*]} rm -f -t 0 b-podman >/dev/null 2>&1; true
EOF2
chmod +x "$work"/[tp]-*.sh

if [ "$runs" -gt 0 ]; then
log "(a) hyperfine: $runs runs each of tank, crun, podman"
unshare -m bash -c "umount /sys/fs/cgroup/unified 2>/dev/null
  hyperfine -N --warmup 3 --runs $runs --export-json '$work/a.json' \
    --prepare '$work/p-tank.sh' -n tank '$work/t-tank.sh' \
    --prepare '$work/p-crun.sh' -n crun '$work/t-crun.sh' \
    --prepare '$work/p-podman.sh' -n podman '$work/t-podman.sh'
  '$work/p-crun.sh'; '$work/p-podman.sh'" >"$work/hyperfine.log" 2>&1 ||
  { cat "$work/hyperfine.log" >&2; exit 1; }
"$tank" delete --wait bench-a >/dev/null 2>&1 || true

echo "(a) apply/run → exec, $runs runs each"
jq -r '
  def p99: sort | .[((length * 99 / 100) | floor | if . >= length then length - 1 else . end)];
  def r2: . * 100 | round / 100;
  [.results[] | {name: .command, mean: (.mean * 1000), p99: (.times | p99 * 1000),
                 median: (.median * 1000)}] as $r
  | ($r[] | select(.name == "crun")) as $crun
  | ($r[] | select(.name == "tank")) as $tank
  | ($r[] | select(.name == "podman")) as $podman
  | "runtime  mean_ms  median_ms  p99_ms",
    ($r[] | "\(.name)  \(.mean | r2)  \(.median | r2)  \(.p99 | r2)"),
    "tank/crun (mean) \($tank.mean / $crun.mean | r2)x   target <= 2x",
    "podman/tank (mean) \($podman.mean / $tank.mean | r2)x   target >= 10x"
' "$work/a.json"
fi

# --- (b) N pods in one apply.
for i in $(seq -f %03g 1 "$npods"); do
  cat <<EOF2
---
name: bench-b$i
restart: always
containers:
  - name: main
    image: $image
    command: [/bin/sh, -c, "exec sleep 1000"]
    stop_signal: KILL
    stop_timeout: 1s
EOF2
done >"$work/b.yaml"

n_running() {
  "$tank" ls -o json | jq '[.items[] | select(.spec.name | startswith("bench-b"))
                              | select(.status.phase == "running")] | length'
}
log "(b) applying $npods pods"
t0=$(ms_now)
"$tank" apply -f "$work/b.yaml" >/dev/null
t_applied=$(ms_now)
n=0 polls=0
while [ "$n" -lt "$npods" ]; do
  [ $(($(ms_now) - t0)) -lt 120000 ] || { log "(b) only $n of $npods running after 120 s"; exit 1; }
  sleep 0.05
  t_poll=$(ms_now)
  n=$(n_running)
  polls=$((polls + 1))
done
t_all=$(ms_now)
t_ls=$(ms_now); n_running >/dev/null; t_ls=$(($(ms_now) - t_ls))

# Memory after convergence (a second to settle), then CPU over the idle window.
sleep 1
tankd_status() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$tankd_pid/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$tankd_pid/stat"; }
rss_kib=$(tankd_status VmRSS)
threads=$(tankd_status Threads)
shim_pids=$(for f in "$work"/run/pods/bench-b*/main/state.json; do jq -r .shim_pid "$f"; done)
n_shims=$(echo "$shim_pids" | wc -w)
shim_mem=$(for p in $shim_pids; do cat "/proc/$p/smaps_rollup"; done |
  awk '/^Rss:/ {rss += $2} /^Private_(Clean|Dirty):/ {priv += $2} END {print rss, priv}')
vcs0=$(tankd_status voluntary_ctxt_switches)
c0=$(cpu_ticks)
sleep "$idle_s"
c1=$(cpu_ticks)
vcs1=$(tankd_status voluntary_ctxt_switches)
rss_idle_kib=$(tankd_status VmRSS)
hz=$(getconf CLK_TCK)
echo "(b) $npods pods in one apply"
echo "apply returned after $((t_applied - t0)) ms; all $npods running after $((t_all - t0)) ms (target <= 10000 ms;" \
  "the poll that saw it started at $((t_poll - t0)) ms; $polls polls, one poll at rest takes $t_ls ms)"
echo "tankd VmRSS 1 s after convergence: $rss_kib KiB; after the $idle_s idle s: $rss_idle_kib KiB" \
  "(target <= 16384 KiB; $rss0_kib KiB at start with no pod): RssAnon $(tankd_status RssAnon) KiB," \
  "RssFile $(tankd_status RssFile) KiB, $threads threads"
set -- $shim_mem
echo "$n_shims shims: RSS sum $1 KiB, private sum $2 KiB ($(($2 / n_shims)) KiB each)"
echo "tankd CPU over $idle_s idle s: $((c1 - c0)) ticks of 1/$hz s ($(((c1 - c0) * 1000 / hz)) ms), $((vcs1 - vcs0)) wake-ups"

# Delete all; nothing may be left.
t0=$(ms_now)
"$tank" delete --wait $(seq -f bench-b%03g 1 "$npods") >/dev/null
t_del=$(ms_now)
echo "delete --wait of $npods pods: $((t_del - t0)) ms"
left=0
# Shims exit after their container; give them a moment, then name what is left
# (state Z: a zombie nobody reaped).
zombies=$(for p in $shim_pids; do awk '$3 == "Z"' "/proc/$p/stat" 2>/dev/null; done | wc -l)
for _ in $(seq 50); do
  alive=0
  for p in $shim_pids; do [ -e "/proc/$p" ] && alive=$((alive + 1)); done
  [ "$alive" = 0 ] && break
  sleep 0.1
done
echo "shims gone $(($(ms_now) - t_del)) ms after delete returned ($zombies were zombies then)"
for p in $shim_pids; do
  [ -e "/proc/$p" ] && { log "left: shim $p, state $(awk '{print $3, "ppid", $4}' "/proc/$p/stat")"; left=1; }
done
grep -q " $work/run/pods/bench-" /proc/mounts && { log "left: mounts under $work/run/pods"; left=1; }
for c in /sys/fs/cgroup/*/"$cgroot"; do
  cg_left=$(find "$c" -mindepth 1 -type d -name 'bench-*' 2>/dev/null | head -3)
  [ -z "$cg_left" ] || { log "left: cgroups in $c:" $cg_left; left=1; }
done
[ -z "$(ls -A "$work/run/pods" 2>/dev/null)" ] || { log "left: $(ls "$work/run/pods" | head -3)..."; left=1; }
[ "$("$tank" ls -o json | jq '.items | length')" = 0 ] || { log "left: pods in the store"; left=1; }
[ "$left" = 0 ] && echo "after delete: no shim, mount, cgroup, state dir or pod left"
[ -z "${BENCH_OUT:-}" ] || cp -f "$work/tankd.log" $(ls "$work"/a.json 2>/dev/null) "$BENCH_OUT/"
exit "$left"
