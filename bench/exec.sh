#!/usr/bin/env bash
# bench/exec: latency of running /bin/true inside a running container, in one
# hyperfine run: `tank exec POD -- /bin/true` (CLI → tankd → 101 → tank-shim
# exec: cgroup join, setns into mount/pid/net/uts/ipc/cgroup, user, seccomp,
# capabilities, exec, exit status back), `nsenter` doing the same namespace
# joins into the same container (no cgroup, no security setup, no daemon), and
# `podman exec` (runc) into a podman container of the same busybox rootfs.
# Usage: bench/exec.sh [RUNS]   (root; uses build/, the release build)
set -euo pipefail
runs=${1:-200}
src=$(cd "$(dirname "$0")/.." && pwd)
build=${TANK_BUILD:-$src/build}
[ -x "$build/tankd" ] || { echo "build first: meson setup build && meson compile -C build" >&2; exit 1; }
work=$(mktemp -d /tmp/tkex-bench.XXXXXX)
export TANK_DATA_DIR=$work/data TANK_RUN_DIR=$work/run TANK_PODS_DIR=$work/pods.d
export TANK_CONFIG=/dev/null TANK_SOCKET=$work/run/tank.sock TANK_CGROUP_ROOT=tank-tkex-bench
tank=$build/tank
podman_args=(--root "$work/podman" --runroot "$work/podman-run" --storage-driver vfs)
tankd_pid=
cleanup() {
  set +e
  if [ -n "$tankd_pid" ]; then
    timeout 30 "$tank" delete --wait bench >/dev/null 2>&1
    kill -TERM "$tankd_pid"; wait "$tankd_pid" 2>/dev/null
  fi
  podman "${podman_args[@]}" rm -f -t 0 tkex-bench >/dev/null 2>&1
  podman "${podman_args[@]}" system reset -f >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

# The image: busybox with its applets, as a rootfs: image for tank and an
# imported image for podman.
root=$work/rootfs
mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root"
cp /bin/busybox "$root/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"

"$build/tankd" >"$work/tankd.log" 2>&1 &
tankd_pid=$!
for _ in $(seq 1 200); do "$tank" version >/dev/null 2>&1 && [ -S "$TANK_SOCKET" ] && break; sleep 0.05; done
cat >"$work/pod.yaml" <<Y
name: bench
containers:
  - {name: app, image: "rootfs:$root", command: [sleep, "1000000"]}
Y
"$tank" apply -f "$work/pod.yaml" >/dev/null
for _ in $(seq 1 200); do
  [ "$("$tank" inspect bench | jq -r .status.phase)" = running ] && break
  sleep 0.05
done
pid=$("$tank" inspect bench | jq -r '.status.containers[0].pid')
"$tank" exec bench -- /bin/true || { echo "tank exec does not work:"; cat "$work/tankd.log"; exit 1; }
nsenter -t "$pid" -m -p -n -u -i -C -- /bin/true

# nsenter does no cgroup join; the same plus the container's cgroups (every
# hierarchy, as tank exec joins them) shows what that costs on this host.
python3 - "$pid" >"$work/procs" <<'P'
import sys
mounts = []
for l in open("/proc/self/mountinfo"):
    a, b = l.split(" - ")
    f = a.split(); t, _, opts = b.split()[:3]
    if t in ("cgroup", "cgroup2"):
        mounts.append((t, f[3], f[4], set(opts.split(","))))
for l in open(f"/proc/{sys.argv[1]}/cgroup"):
    _, ctrls, path = l.rstrip("\n").split(":", 2)
    for t, root, mnt, opts in mounts:
        if (t == "cgroup2" and ctrls == "") or (t == "cgroup" and ctrls and set(ctrls.split(",")) <= opts):
            print(mnt + (path[len(root):] if root != "/" else path) + "/cgroup.procs")
            break
P
{ echo 'for f in $(cat '"$work/procs"'); do echo $$ >"$f"; done'
  echo "exec nsenter -t $pid -m -p -n -u -i -C -- /bin/true"; } >"$work/nsenter-cg.sh"
sh "$work/nsenter-cg.sh"

cmds=(-n "tank exec" "$tank exec bench -- /bin/true"
      -n "nsenter -t PID -m -p -n -u -i -C" "nsenter -t $pid -m -p -n -u -i -C -- /bin/true"
      -n "sh: join cgroups + nsenter" "sh $work/nsenter-cg.sh"
      -n "sh -c true (for the line above)" "sh -c true")
# podman here needs runc and ulimits within this machine's hard limits.
cat >"$work/containers.conf" <<C
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=32768:32768"]
[engine]
runtime = "runc"
C
export CONTAINERS_CONF=$work/containers.conf
podman_note=
if tar -C "$root" -c . | podman "${podman_args[@]}" import - localhost/tkex-busybox >/dev/null 2>"$work/podman.log" &&
  podman "${podman_args[@]}" run -d --name tkex-bench --network none localhost/tkex-busybox \
    sleep 1000000 >/dev/null 2>>"$work/podman.log" &&
  podman "${podman_args[@]}" exec tkex-bench /bin/true 2>>"$work/podman.log"; then
  cmds+=(-n "podman exec (runc)" "podman ${podman_args[*]} exec tkex-bench /bin/true")
else
  podman_note="podman could not run here: $(tail -n 3 "$work/podman.log" | tr '\n' ' ')"
fi

hyperfine -N --warmup 10 --runs "$runs" --export-json "$work/result.json" "${cmds[@]}" >/dev/null
echo "exec /bin/true into a running container, $runs runs each (kernel $(uname -r), $(nproc) CPUs)"
python3 - "$work/result.json" <<'P'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
def p(ts, q):
    ts = sorted(ts); return ts[min(len(ts) - 1, int(q * len(ts)))]
base = next(r for r in res if r["command"].startswith("nsenter"))["mean"]
print(f"{'command':36} {'mean':>9} {'median':>9} {'p99':>9} {'/ nsenter':>9}")
for r in res:
    t = r["times"]
    print(f"{r['command']:36} {r['mean']*1e3:7.2f}ms {r['median']*1e3:7.2f}ms "
          f"{p(t, .99)*1e3:7.2f}ms {r['mean']/base:8.2f}x")
P
[ -z "$podman_note" ] || echo "$podman_note"
