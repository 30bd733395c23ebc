#!/usr/bin/env bats
# Logs, stats and metrics of pods that a real tankd runs (rootfs: busybox
# images, this host's cgroups): tank logs --tail/--since/--timestamps/
# --previous/-f (latency and rotation), tank stats and /metrics checked
# against the cgroup and /proc/net/dev files, /metrics through a strict parser.

load helpers

PROMPARSE=$TANK_SRC/tests/e2e/promparse.py

setup_file() {
  require_root
  ROOTFS=$(mktemp -d /tmp/tkobs-rootfs.XXXXXX)
  export ROOTFS
  mkdir -p "$ROOTFS/bin" "$ROOTFS/etc" "$ROOTFS/tmp" "$ROOTFS/data"
  chmod 1777 "$ROOTFS/tmp"
  cp /bin/busybox "$ROOTFS/bin/busybox"
  local a
  for a in $(/bin/busybox --list); do
    [ "$a" = busybox ] || ln -s busybox "$ROOTFS/bin/$a"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$ROOTFS/etc/passwd"
  echo 'root:x:0:' >"$ROOTFS/etc/group"
}

teardown_file() {
  [ -n "${ROOTFS:-}" ] && rm -rf "$ROOTFS"
}

setup() {
  require_root
  tmp=$(make_tmp)
  CGR=tank-tkobs-$$-$BATS_TEST_NUMBER
  start_tankd --cgroup-root "$CGR"
}

teardown() {
  local p
  for p in $("$TANK" get -o json 2>/dev/null | jq -r '.items[].spec.name' 2>/dev/null); do
    "$TANK" delete --wait "$p" >/dev/null 2>&1
  done
  [ -n "${FOLLOW_PID:-}" ] && kill "$FOLLOW_PID" 2>/dev/null
  stop_tankd
  local c
  for c in /sys/fs/cgroup/*/"$CGR"; do [ -d "$c" ] && rmdir "$c" 2>/dev/null; done
  grep -q " $tmp/" /proc/mounts && grep " $tmp/" /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r -n1 umount -l
  rm -rf "$tmp"
}

# pod NAME SCRIPT [EXTRA_YAML]: a one-container pod (container `app`) running sh -c SCRIPT.
pod() {
  local script=${2//\'/\'\'}
  cat >"$tmp/$1.yaml" <<EOF
name: $1
${3:-}
containers:
  - name: app
    image: rootfs:$ROOTFS
    command: [sh, -c, '$script']
EOF
  "$TANK" apply -f "$tmp/$1.yaml"
}

# wait_running NAME: bounded (20 s).
wait_running() {
  for _ in $(seq 1 400); do
    [ "$("$TANK" inspect "$1" | jq -r .status.phase)" = running ] && return 0
    sleep 0.05
  done
  "$TANK" inspect "$1"; cat "$tmp/tankd.log"; return 1
}

# wait_log NAME REGEX: until the pod's log has a line matching (bounded, 20 s).
wait_log() {
  for _ in $(seq 1 400); do
    "$TANK" logs "$1" 2>/dev/null | grep -Eq "$2" && return 0
    sleep 0.05
  done
  "$TANK" logs "$1"; return 1
}

blkio_throttle_written() {
  awk '$2 == "Write" {s += $3} END {print s + 0}' \
    "/sys/fs/cgroup/blkio/$CGR/$POD/$1/blkio.throttle.io_service_bytes_recursive"
}

cg() { # cg CONTROLLER FILE [CONTAINER]
  cat "/sys/fs/cgroup/$1/$CGR/$POD${3:+/$3}/$2"
}

@test "logs: --tail, --since and --timestamps on a running pod" {
  POD=lg
  # stdout and stderr are two pipes: lines are ordered across them only when
  # written apart in time.
  pod lg 'for i in 1 2 3 4 5; do echo "out $i"; done; sleep 0.2; echo "err 1" >&2; sleep 0.2; echo "out 6"; sleep 1.2; echo late; exec sleep 1000'
  wait_log lg '^late$'
  run "$TANK" logs lg
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 8 ]
  [ "${lines[0]}" = "out 1" ]
  [ "${lines[5]}" = "err 1" ]
  [ "${lines[7]}" = late ]
  run "$TANK" logs lg --tail 3
  [ "$output" = "$(printf 'err 1\nout 6\nlate')" ]
  run "$TANK" logs lg --tail 0
  [ "$output" = "" ]
  # --timestamps: each line starts with the RFC 3339 time the shim recorded
  run "$TANK" logs lg --timestamps --tail 1
  [[ "$output" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z\ late$ ]]
  late_ts=${output%% *}
  # --since that exact time: only the late line; a second before it: the same
  # (the first lines were written 1.2 s earlier); an hour: everything.
  run "$TANK" logs lg --since "$late_ts"
  [ "$output" = late ]
  ns=$(date -d "$late_ts" +%s%N)
  before=$(date -u -d "@$(((ns - 1000000000) / 1000000000)).$(printf %09d $(((ns - 1000000000) % 1000000000)))" +%Y-%m-%dT%H:%M:%S.%NZ)
  run "$TANK" logs lg --since "$before"
  [ "$output" = late ]
  run "$TANK" logs lg --since 1h
  [ "${#lines[@]}" -eq 8 ]
  run "$TANK" logs lg --since 1x
  [ "$status" -eq 2 ]
  # errors: no such pod, no such container, no previous run yet
  run "$TANK" logs nope
  [ "$status" -eq 1 ]
  [[ "$output" == *"no pod named nope"* ]]
  run "$TANK" logs lg -c nope
  [ "$status" -eq 1 ]
  [[ "$output" == *"has no container nope"* ]]
  run "$TANK" logs lg --previous
  [ "$status" -eq 1 ]
  [[ "$output" == *"no previous run"* ]]
}

@test "logs: --previous shows the last run of a restarted container" {
  POD=pv
  cat >"$tmp/pv.yaml" <<EOF
name: pv
restart: always
backoff: {initial: 100ms, max: 200ms}
volumes: [{name: data}]
containers:
  - name: app
    image: rootfs:$ROOTFS
    mounts: [{volume: data, path: /data}]
    command: [sh, -c, 'n=\$(cat /data/n 2>/dev/null || echo 0); n=\$((n+1)); echo \$n >/data/n; echo "run \$n"; echo "bye \$n" >&2; [ \$n -ge 3 ] && exec sleep 1000; exit 1']
EOF
  "$TANK" apply -f "$tmp/pv.yaml"
  wait_log pv '^run 3$'
  run "$TANK" logs pv
  [ "$output" = "$(printf 'run 3\nbye 3')" ]
  run "$TANK" logs pv --previous
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'run 2\nbye 2')" ]
  run "$TANK" logs pv --previous --tail 1
  [ "$output" = "bye 2" ]
  # only this run and the previous one are kept
  [ "$(ls "$tmp/data/logs/pv")" = "$(printf 'app.log\napp.previous.log')" ]
}

@test "logs: -f sees each new line within 100 ms of the shim writing it" {
  POD=fl
  pod fl 'i=0; while [ $i -lt 12 ]; do echo "tick $i"; i=$((i+1)); sleep 0.25; done; exec sleep 1000'
  wait_running fl
  # Stamp each line as it arrives; --timestamps gives the time the shim wrote it.
  # Lines written before the follower was attached do not count.
  attached=$(($(date +%s%N) + 300000000))
  "$TANK" logs -f --timestamps fl | python3 -u -c '
import sys, time
for line in sys.stdin:
    print(time.time_ns(), line, end="", flush=True)' >"$tmp/follow.out" &
  FOLLOW_PID=$!
  for _ in $(seq 1 200); do grep -q "tick 11" "$tmp/follow.out" && break; sleep 0.05; done
  pkill -P "$FOLLOW_PID" 2>/dev/null || true
  kill "$FOLLOW_PID" 2>/dev/null || true
  [ "$(grep -c tick "$tmp/follow.out")" -eq 12 ]
  worst=0 counted=0
  while read -r recv ts _; do
    written=$(date -d "$ts" +%s%N)
    [ "$written" -gt "$attached" ] || continue
    counted=$((counted + 1))
    delay_ms=$(((recv - written) / 1000000))
    [ "$delay_ms" -gt "$worst" ] && worst=$delay_ms
  done <"$tmp/follow.out"
  echo "worst delay ${worst} ms over $counted lines" >&3
  [ "$counted" -ge 8 ]
  [ "$worst" -lt 100 ]
}

@test "logs: -f follows across rotation without loss or duplication" {
  POD=rt
  # ~45 MB of records: four rotations of the 10 MiB log, written in a burst
  # after the follower is attached.
  pod rt 'while [ ! -e /tmp/go ]; do sleep 0.05; done; seq 1 1000000; exec sleep 1000'
  wait_running rt
  "$TANK" logs -f rt >"$tmp/follow.out" &
  FOLLOW_PID=$!
  sleep 0.3
  pid=$("$TANK" inspect rt | jq -r '.status.containers[0].pid')
  touch "/proc/$pid/root/tmp/go"
  for _ in $(seq 1 1200); do [ "$(tail -n 1 "$tmp/follow.out")" = 1000000 ] && break; sleep 0.1; done
  kill "$FOLLOW_PID"
  ls "$tmp/data/logs/rt" >&3
  [ -e "$tmp/data/logs/rt/app.log.4" ] # it did rotate, four times
  [ "$(wc -l <"$tmp/follow.out")" -eq 1000000 ]
  seq 1 1000000 | cmp - "$tmp/follow.out"
}

@test "stats: per container and per pod, equal to the cgroup files" {
  POD=st
  cat >"$tmp/st.yaml" <<EOF
name: st
containers:
  - name: app
    image: rootfs:$ROOTFS
    command: [sh, -c, 'dd if=/dev/zero of=/tmp/f bs=1M count=8 oflag=direct 2>/dev/null; head -c 4000000 /dev/zero | tail >/dev/null & ping -c 3 -i 0.2 127.0.0.1 >/dev/null; echo ready; exec sleep 1000']
    limits: {memory: 64Mi, pids: 50, cpu: 0.5}
  - name: side
    image: rootfs:$ROOTFS
    command: [sleep, '1000']
EOF
  "$TANK" apply -f "$tmp/st.yaml"
  wait_running st
  for _ in $(seq 1 200); do "$TANK" logs st -c app | grep -q ready && break; sleep 0.05; done
  "$TANK" logs st -c app | grep -q ready || { "$TANK" inspect st; cat "$tmp/tankd.log"; false; }
  sleep 0.3
  run "$TANK" stats --no-stream -o json st
  [ "$status" -eq 0 ]
  echo "$output" >"$tmp/stats.json"
  app() { jq -r ".pods[0].containers[] | select(.name == \"app\") | .$1" "$tmp/stats.json"; }
  pod_() { jq -r ".pods[0].$1" "$tmp/stats.json"; }
  [ "$(pod_ name)" = st ]
  [ "$(app memory_limit_bytes)" = "$(cg memory memory.limit_in_bytes app)" ]
  [ "$(app memory_limit_bytes)" = 67108864 ]
  [ "$(app pids_limit)" = 50 ]
  [ "$(app pids)" = "$(cg pids pids.current app)" ]
  [ "$(pod_ pids)" = "$(cg pids pids.current)" ]
  [ "$(pod_ memory_limit_bytes)" = 0 ] # side has no limit
  # memory moves a little between two reads: within 5 %
  usage=$(cg memory memory.usage_in_bytes app)
  inactive=$(awk '$1 == "total_inactive_file" {print $2}' "/sys/fs/cgroup/memory/$CGR/st/app/memory.stat")
  ws=$((usage - inactive))
  [ "$(app memory_bytes)" -le $((ws + ws / 20 + 65536)) ]
  [ "$(app memory_bytes)" -ge $((ws - ws / 20 - 65536)) ]
  # CPU: cumulative seconds no more than cpuacct says a moment later
  cpu_ns=$(cg cpuacct cpuacct.usage app) || { "$TANK" inspect st; ls /sys/fs/cgroup/cpuacct/$CGR/st; cat "$tmp/tankd.log"; false; }
  awk -v a="$(app cpu_seconds)" -v b="$cpu_ns" 'BEGIN { exit !(a * 1e9 <= b && a > 0) }'
  jq -e '.pods[0].containers[] | select(.name == "app") | .cpu_percent >= 0' "$tmp/stats.json"
  # block I/O: the 8 MiB written with O_DIRECT. This kernel's v1 blkio counts
  # nothing without a throttle rule, so it is what /proc/<pid>/io says of the
  # cgroup's processes (PID 1 carries its reaped children).
  written=$(blkio_throttle_written app)
  if [ "$written" -eq 0 ]; then
    written=0
    for p in $(cg pids cgroup.procs app); do
      written=$((written + $(awk '$1 == "write_bytes:" {print $2}' "/proc/$p/io")))
    done
  fi
  echo "written $written; app $(app block_write_bytes); pod $(pod_ block_write_bytes)"
  [ "$(app block_write_bytes)" = "$written" ]
  [ "$(pod_ block_write_bytes)" -ge "$written" ]
  [ "$written" -ge 8388608 ]
  # network: the pod's namespace seen from inside it (only lo: no NIC)
  lo_rx=$(nsenter --net="$tmp/run/pods/st/ns/net" cat /proc/net/dev | awk -F'[: ]+' '$2 == "lo" {print $3}')
  [ "$(jq -r '.pods[0].interfaces[] | select(.name == "lo") | .rx_bytes' "$tmp/stats.json")" = "$lo_rx" ]
  [ "$lo_rx" -gt 0 ] # the pings
  [ "$(pod_ net_rx_bytes)" = 0 ] # lo is not counted
  # the table fits 80 columns
  run "$TANK" stats --no-stream st
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 4 ]
  [[ "${lines[1]}" == st* ]]
  for l in "${lines[@]}"; do [ "${#l}" -le 80 ]; done
  # streaming: one document per interval
  run timeout 2 "$TANK" stats -o json --interval 300ms st
  [ "$(echo "$output" | grep -c '"pods"')" -ge 3 ]
  run "$TANK" stats --no-stream nope
  [ "$status" -eq 1 ]
}

@test "metrics: /metrics parses strictly and its values are the cgroup files'" {
  POD=mt
  cat >"$tmp/mt.yaml" <<EOF
name: mt
containers:
  - name: app
    image: rootfs:$ROOTFS
    command: [sleep, '1000']
    limits: {memory: 32Mi, pids: 20}
EOF
  "$TANK" apply -f "$tmp/mt.yaml"
  wait_running mt
  curl -sf --unix-socket "$TANK_SOCKET" -D "$tmp/headers" http://t/metrics >"$tmp/metrics.txt"
  grep -qi '^content-type: text/plain; version=0.0.4' "$tmp/headers"
  python3 "$PROMPARSE" <"$tmp/metrics.txt" >"$tmp/samples.json"
  m() { # m NAME [CONTAINER]
    jq -r --arg n "$1" --arg c "${2-app}" \
      '.[] | select(.name == $n and .labels.pod == "mt" and (.labels.container // "") == $c) | .value' \
      "$tmp/samples.json"
  }
  [ "$(m container_spec_memory_limit_bytes)" = "$(cg memory memory.limit_in_bytes app)" ]
  [ "$(m container_threads_max)" = 20 ]
  [ "$(m container_threads)" = "$(cg pids pids.current app)" ]
  awk -v a="$(m container_cpu_usage_seconds_total)" -v b="$(cg cpuacct cpuacct.usage app)" \
    'BEGIN { exit !(a * 1e9 <= b) }'
  [ -n "$(m container_memory_working_set_bytes)" ]
  [ -n "$(m container_memory_usage_bytes '')" ] # the pod cgroup, container=""
  jq -e '[.[] | select(.name == "tank_pod_phase" and .labels.pod == "mt" and .value == 1)
          | .labels.phase] == ["running"]' "$tmp/samples.json"
  jq -e '.[] | select(.name == "tank_pod_restarts_total" and .labels.pod == "mt") | .value == 0' "$tmp/samples.json"
  jq -e '.[] | select(.name == "tank_reconcile_duration_seconds_count") | .value > 0' "$tmp/samples.json"
  jq -e '.[] | select(.name == "tank_image_pull_duration_seconds_count"
          and (.labels.image | startswith("rootfs:"))) | .value >= 1' "$tmp/samples.json"
  for n in container_network_receive_bytes_total container_network_transmit_bytes_total \
    container_fs_reads_bytes_total container_fs_writes_bytes_total; do
    grep -q "^# TYPE $n counter$" "$tmp/metrics.txt"
  done
  # The parser is strict: a broken exposition fails it.
  ! sed 's/^container_threads{/container_threads {/' "$tmp/metrics.txt" | python3 "$PROMPARSE" >/dev/null 2>&1
  ! { cat "$tmp/metrics.txt"; grep '^container_threads{' "$tmp/metrics.txt" | head -1; } |
    python3 "$PROMPARSE" >/dev/null 2>&1
}

@test "metrics: also served on the TCP listener from the config" {
  stop_tankd
  port=$((19100 + $$ % 700))
  start_tankd --cgroup-root "$CGR" --metrics-listen "127.0.0.1:$port"
  curl -sf "http://127.0.0.1:$port/metrics" | python3 "$PROMPARSE" >/dev/null
  run curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v1/pods"
  [ "$output" = 404 ]
}
