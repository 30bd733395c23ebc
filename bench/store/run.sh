#!/usr/bin/env bash
# bench/store: acknowledged single-key puts/s and put->watch latency of both
# store backends, beside `etcdctl put` in a loop against the same etcd.
# Usage: bench/store/run.sh [BUILD_DIR] [N]. Uses 127.0.0.1:23880-23881 and a
# temp dir on the same disk as /tmp; stops its etcd by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
n=${2:-5000}
bench=$build/bench/store/bench_store
[ -x "$bench" ] || { echo "build first: meson compile -C $build" >&2; exit 1; }
tmp=$(mktemp -d /tmp/tkst-bench.XXXXXX)
etcd_pid=
cleanup() {
  if [ -n "$etcd_pid" ]; then
    kill "$etcd_pid" 2>/dev/null || true
    wait "$etcd_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

etcd --name tkst-bench --data-dir "$tmp/etcd" \
  --listen-client-urls http://127.0.0.1:23880 --advertise-client-urls http://127.0.0.1:23880 \
  --listen-peer-urls http://127.0.0.1:23881 --initial-advertise-peer-urls http://127.0.0.1:23881 \
  --initial-cluster tkst-bench=http://127.0.0.1:23881 --logger zap --log-level warn \
  >"$tmp/etcd.log" 2>&1 &
etcd_pid=$!
for _ in $(seq 200); do
  etcdctl --endpoints=127.0.0.1:23880 --command-timeout=200ms put /bench/ready 1 >/dev/null 2>&1 && break
  sleep 0.05
done

echo "== store seam: ${n} sequential single-key 256 B puts; 2000 put->watch round trips in one process; 1000 puts by another process to a watcher here"
"$bench" "sqlite:$tmp/full.db?sync=full" "$n"
"$bench" "sqlite:$tmp/normal.db" "$n"   # default: sync=normal + WAL flusher
"$bench" "etcd://127.0.0.1:23880" "$n"

echo "== etcdctl put in a loop (a process per put), 200 puts; minus the same loop of 'etcdctl version' (process start only)"
value=$(head -c 256 /dev/zero | tr '\0' v)
loop_ns() { local s e; s=$(date +%s%N); for _ in $(seq 200); do "$@" >/dev/null; done; e=$(date +%s%N); echo $((e - s)); }
put_ns=$(loop_ns etcdctl --endpoints=127.0.0.1:23880 put /bench/key "$value")
start_ns=$(loop_ns etcdctl version)
awk -v p="$put_ns" -v v="$start_ns" 'BEGIN {
  printf "etcdctl  puts/s %8.0f  mean %6.0f us per put; without process start: %6.0f us per put (connect + put)\n",
    200 / (p / 1e9), p / 200 / 1e3, (p - v) / 200 / 1e3 }'
echo "published (etcd.io/docs/v3.4/op-guide/performance, 3 members on GCE, 1 connection, 1 client,"
echo "leader only, 8 B keys, 256 B values): 583 writes/s, 1.6 ms average latency"
