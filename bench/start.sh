#!/usr/bin/env bash
# bench/start: time to run /bin/true in the busybox fixture image with all
# namespaces (mount, pid, ipc, uts, net, cgroup) and a cgroup, with tank-shim
# (foreground) beside `crun run` and `runc run` of the same rootfs and command,
# in one run. Reports mean and p99 per runtime, the ratios, and tank-shim's
# private RSS while a container runs.
#
# crun 1.8 refuses the hybrid hierarchy, so everything runs inside `unshare -m`
# with the useless cgroup2 mount at /sys/fs/cgroup/unified unmounted (FACTS.md).
# Usage: bench/start.sh [RUNS]   (root; uses build/tank-shim, the release build)
set -euo pipefail
runs=${1:-200}
src=$(cd "$(dirname "$0")/.." && pwd)
shim=${TANK_SHIM:-$src/build/tank-shim}
[ -x "$shim" ] || { echo "build first: meson setup build && meson compile -C build" >&2; exit 1; }
work=$(mktemp -d /tmp/tkrt-bench.XXXXXX)
trap 'rm -rf "$work"; for c in /sys/fs/cgroup/*/tank-tkrt-bench; do [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null; done; true' EXIT

# The image: busybox as one layer dir (tank) and the same files as a bundle rootfs.
layer=$work/layer
mkdir -p "$layer/bin" "$layer/etc" "$layer/proc" "$layer/sys" "$layer/dev" "$layer/tmp"
cp /bin/busybox "$layer/bin/"
for a in true sh; do ln -s busybox "$layer/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$layer/etc/passwd"
echo 'root:x:0:' >"$layer/etc/group"

jq -n --arg w "$work" '{
  id: "bench", state_dir: ($w + "/tank/state"),
  rootfs: {layers: [($w + "/layer")], upper: ($w + "/tank/upper"), work: ($w + "/tank/work"),
           mountpoint: ($w + "/tank/rootfs")},
  process: {command: ["/bin/true"]}, hostname: "bench",
  namespaces: {create: ["mount", "pid", "cgroup", "net", "uts", "ipc"]},
  cgroup: {path: "tank-tkrt-bench/tank"}}' >"$work/tank.json"

for rt in crun runc; do
  b=$work/$rt
  mkdir -p "$b"
  cp -a "$layer" "$b/rootfs"
  (cd "$b" && crun spec)
  jq --arg cg "tank-tkrt-bench/$rt" '.process.args = ["/bin/true"] | .process.terminal = false
      | .linux.namespaces += [{type: "cgroup"}] | .linux.cgroupsPath = $cg
      | .hostname = "bench"' "$b/config.json" >"$b/config.json.new"
  mv "$b/config.json.new" "$b/config.json"
done

# Sanity: all three really run the command.
unshare -m bash -c "umount /sys/fs/cgroup/unified 2>/dev/null
  '$shim' --foreground '$work/tank.json' && crun --root '$work/crun-state' run --bundle '$work/crun' b-crun &&
  runc --root '$work/runc-state' run --bundle '$work/runc' b-runc" || { echo "a runtime failed" >&2; exit 1; }

unshare -m bash -c "umount /sys/fs/cgroup/unified 2>/dev/null
  hyperfine -N --warmup 10 --runs $runs --export-json '$work/times.json' \
    -n tank \"'$shim' --foreground '$work/tank.json'\" \
    -n crun \"crun --root '$work/crun-state' run --bundle '$work/crun' b-crun\" \
    -n runc \"runc --root '$work/runc-state' run --bundle '$work/runc' b-runc\"" >/dev/null

jq -r '
  def p99: sort | .[((length * 99 / 100) | floor | if . >= length then length - 1 else . end)];
  [.results[] | {name: .command, mean: (.mean * 1000), p99: (.times | p99 * 1000)}] as $r
  | ($r[] | select(.name == "crun")) as $crun
  | ($r[] | select(.name == "runc")) as $runc
  | "runtime  mean_ms  p99_ms  mean/crun  mean/runc",
    ($r[] | "\(.name)     \(.mean * 100 | round / 100)    \(.p99 * 100 | round / 100)    \(.mean / $crun.mean * 100 | round / 100)x      \(.mean / $runc.mean * 100 | round / 100)x")
' "$work/times.json"

# Private RSS of a shim supervising a running container.
jq '.process.command = ["sleep", "5"] | .id = "rss"' "$work/tank.json" >"$work/rss.json"
ln -s busybox "$layer/bin/sleep"
pid=$("$shim" "$work/rss.json" >/dev/null; jq -r .shim_pid "$work/tank/state/state.json")
sleep 0.3
awk '/^Private_(Clean|Dirty):/ {kb += $2} /^Rss:/ {rss = $2}
     END {printf "tank-shim while a container runs: private %d KiB, RSS %d KiB\n", kb, rss}' \
  "/proc/$pid/smaps_rollup"
kill -TERM "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
