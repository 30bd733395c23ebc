#!/usr/bin/env bats
# Pods run by a real tankd from a loopback registry: apply → running, updates
# in place and by rebuild, delete leaving nothing, restart policies and backoff,
# isolation of a crash loop, adoption after kill -9, a simulated reboot, and
# images that do not exist.

load pod_helpers

setup_file() { pods_setup_file; }
teardown_file() { pods_teardown_file; }
setup() { pods_setup; }
teardown() { pods_teardown; }

@test "apply → running: the workload runs in the pod's sandbox and cgroup" {
  f=$(pod_file web always "echo hello; exec sleep 1000")
  run "$TANK" apply -f "$f"
  [ "$output" = "pod/web created" ]
  wait_for web .phase running
  pid=$(cpid web)
  [ "$pid" -gt 1 ]
  [ "$(tr '\0' ' ' </proc/$pid/cmdline)" = "sleep 1000 " ]
  # its network namespace is the pod's, held by the sandbox's ns file
  [ "$(stat -L -c %i /proc/$pid/ns/net)" = "$(stat -L -c %i "$tmp/run/pods/web/ns/net")" ]
  grep -q ":memory:/$TANK_CGROUP_ROOT/web/main\$" /proc/$pid/cgroup
  [ "$(status web .containers[0].state)" = running ]
  [ "$(status web .restarts)" = 0 ]
  run "$TANK" ls
  [[ "${lines[1]}" == web\ *running*1/1* ]]
  grep -q "stdout F hello" "$tmp/data/logs/web/main.log"
}

@test "a changed limit is applied in place; a changed command rebuilds the container" {
  f=$(pod_file upd always "exec sleep 1000" "    limits: {memory: 64Mi}")
  "$TANK" apply -f "$f"
  wait_for upd .phase running
  pid=$(cpid upd)
  mem=/sys/fs/cgroup/memory/$TANK_CGROUP_ROOT/upd/main/memory.limit_in_bytes
  [ "$(cat "$mem")" = $((64 << 20)) ]
  sed -i 's/64Mi/96Mi/' "$f"
  run "$TANK" apply -f "$f"
  [ "$output" = "pod/upd configured" ]
  for _ in $(seq 100); do [ "$(cat "$mem")" = $((96 << 20)) ] && break; sleep 0.05; done
  [ "$(cat "$mem")" = $((96 << 20)) ]
  [ "$(cpid upd)" = "$pid" ]
  sed -i 's/sleep 1000/sleep 2000/' "$f"
  "$TANK" apply -f "$f"
  for _ in $(seq 100); do
    new=$(cpid upd)
    [ "$new" != null ] && [ "$new" != "$pid" ] && break
    sleep 0.05
  done
  wait_for upd .phase running
  [ "$(tr '\0' ' ' </proc/$(cpid upd)/cmdline)" = "sleep 2000 " ]
  [ "$(status upd .restarts)" = 0 ] # a new spec is not a restart
  ! kill -0 "$pid" 2>/dev/null
}

@test "delete stops the containers gracefully and leaves nothing behind" {
  f=$(pod_file gone always "trap 'echo bye; exit 0' TERM; while :; do sleep 0.1; done" \
    "volumes: [{name: scratch}]")
  sed -i 's|    stop_timeout: 2s|    stop_timeout: 2s\n    mounts: [{volume: scratch, path: /scratch}]|' "$f"
  "$TANK" apply -f "$f"
  wait_for gone .phase running
  pid=$(cpid gone)
  shim=$(jq -r .shim_pid "$tmp/run/pods/gone/main/state.json")
  [ -d "$tmp/data/volumes/gone/scratch" ]
  run "$TANK" delete --wait gone
  [ "$status" -eq 0 ]
  ! kill -0 "$pid" 2>/dev/null
  ! kill -0 "$shim" 2>/dev/null
  assert_pod_gone gone
  run "$TANK" get gone
  [ "$status" -eq 1 ]
}

@test "restart: never — an exited container stays exited with its code" {
  f=$(pod_file once never "exit 3")
  "$TANK" apply -f "$f"
  wait_for once .phase terminal
  [ "$(status once .containers[0].exit_code)" = 3 ]
  [ "$(status once .containers[0].state)" = exited ]
  sleep 1
  [ "$(status once .restarts)" = 0 ]
  [[ "$(status once .message)" == *"exited with 3"* ]]
}

@test "restart: on-failure — exit 0 is final; a failure restarts with a growing backoff" {
  f=$(pod_file ok on-failure "exit 0")
  "$TANK" apply -f "$f"
  wait_for ok .phase terminal
  sleep 0.5
  [ "$(status ok .restarts)" = 0 ]

  f=$(pod_file bad on-failure "exit 1")
  "$TANK" apply -f "$f"
  # delays of 200, 400, 800 ms (±20 %): record next_restart_at - finished_at per exit
  delays=()
  last=
  for _ in $(seq 200); do
    s=$("$TANK" inspect bad | jq -c '.status.containers[0] | [.restarts, .finished_at, .next_restart_at]')
    r=$(echo "$s" | jq -r '.[0]')
    if [ "$(echo "$s" | jq -r '.[2]')" != null ] && [ "$r" != "$last" ]; then
      last=$r
      delays+=("$(echo "$s" | jq -r '(.[2] | sub("\\.[0-9]+Z$"; "Z") | fromdate) * 1000 + (.[2] | capture("\\.(?<ms>[0-9]+)Z$").ms | tonumber) - ((.[1] | sub("\\.[0-9]+Z$"; "Z") | fromdate) * 1000 + (.[1] | capture("\\.(?<ms>[0-9]+)Z$").ms | tonumber))')")
      [ "${#delays[@]}" -ge 3 ] && break
    fi
    sleep 0.05
  done
  echo "delays: ${delays[*]}"
  [ "${#delays[@]}" -ge 3 ]
  [ "${delays[0]}" -ge 150 ] && [ "${delays[0]}" -le 250 ]
  [ "${delays[1]}" -ge 310 ] && [ "${delays[1]}" -le 490 ]
  [ "${delays[2]}" -ge 630 ] && [ "${delays[2]}" -le 970 ]
  [ "$(status bad .phase)" = backing_off ] || [ "$(status bad .phase)" = running ] ||
    [ "$(status bad .phase)" = starting ]
  [ "$(status bad .containers[0].exit_code)" = 1 ] || [ "$(status bad .containers[0].state)" != exited ]
}

@test "restart: always — exit 0 restarts too, and the backoff resets after a stable run" {
  # runs of 3.5 s are stable (reset_after 3s): every restart waits the initial 200 ms
  f=$(pod_file steady always "sleep 3.5; exit 0")
  "$TANK" apply -f "$f"
  wait_ge steady .restarts 2 12
  wait_for steady .containers[0].state running
  s=$("$TANK" inspect steady | jq -r '.status.containers[0]')
  [ "$(echo "$s" | jq -r .state)" = running ]
  grep -q "pod steady: container main exited (code 0" "$tmp/tankd.log"
  # the failure count stayed at the first step: both delays were the initial one
  [ "$(jq -r .failures "$tmp/run/pods/steady/main/tank.json")" = 0 ]
}

@test "a crash-looping pod never delays a healthy one" {
  f=$(pod_file loop always "exit 1")
  sed -i 's/initial: 200ms, max: 2s/initial: 10ms, max: 20ms/' "$f"
  "$TANK" apply -f "$f"
  wait_ge loop .restarts 3
  g=$(pod_file calm always "exec sleep 1000")
  t0=$(date +%s%N)
  "$TANK" apply -f "$g"
  wait_for calm .phase running 5
  t1=$(date +%s%N)
  echo "healthy pod running after $(((t1 - t0) / 1000000)) ms beside a crash loop"
  [ $(((t1 - t0) / 1000000)) -lt 3000 ]
  r=$(status loop .restarts)
  [ "$r" -ge 3 ]
}

@test "kill -9 of tankd: containers keep running, are adopted as they were; exits meanwhile get the policy" {
  "$TANK" apply -f "$(pod_file keep always "exec sleep 1000")"
  "$TANK" apply -f "$(pod_file dies always "exec sleep 1000")"
  wait_for keep .phase running
  wait_for dies .phase running
  # one restart of keep first, so its count must survive too
  kill -9 "$(cpid keep)"
  wait_ge keep .restarts 1
  wait_for keep .phase running
  keep_pid=$(cpid keep)
  dies_pid=$(cpid dies)
  kill -9 "$TANKD_PID"
  wait "$TANKD_PID" 2>/dev/null || true
  TANKD_PID=
  kill -0 "$keep_pid"
  kill -9 "$dies_pid" # exits while nobody watches
  sleep 0.3
  start_tankd
  wait_for keep .phase running
  [ "$(cpid keep)" = "$keep_pid" ]
  [ "$(status keep .restarts)" = 1 ]
  wait_ge dies .restarts 1
  wait_for dies .phase running
  [ "$(cpid dies)" != "$dies_pid" ]
  grep -q "adopted pod keep (sandbox): 1 running" "$tmp/tankd.log"
}

@test "a simulated reboot (every process killed, run dir wiped) brings the pods back from the store" {
  "$TANK" apply -f "$(pod_file a always "exec sleep 1000")"
  "$TANK" apply -f "$(pod_file b on-failure "exec sleep 1000")"
  wait_for a .phase running
  wait_for b .phase running
  old_a=$(cpid a)
  kill -9 "$TANKD_PID"
  wait "$TANKD_PID" 2>/dev/null || true
  TANKD_PID=
  pods_cleanup
  rm -rf "$tmp/run"
  ! kill -0 "$old_a" 2>/dev/null
  start_tankd
  wait_for a .phase running
  wait_for b .phase running
  [ "$(cpid a)" != "$old_a" ]
  [ "$(status a .restarts)" = 0 ]
}

@test "tank restart stops and starts every container, and counts it" {
  "$TANK" apply -f "$(pod_file rs always "trap 'exit 0' TERM; while :; do sleep 0.1; done")"
  wait_for rs .phase running
  pid=$(cpid rs)
  run "$TANK" restart rs
  [ "$status" -eq 0 ]
  wait_ge rs .restarts 1
  wait_for rs .phase running
  [ "$(cpid rs)" != "$pid" ]
  run "$TANK" restart nosuch
  [ "$status" -eq 1 ]
}

@test "a pod whose image does not exist is failed with the reason, and retried" {
  f=$(pod_file ghost always "true")
  sed -i "s|tank/busybox:latest|tank/no-such-image:1|" "$f"
  "$TANK" apply -f "$f"
  wait_for ghost .phase failed
  msg=$(status ghost .message)
  echo "$msg"
  [[ "$msg" == *"no-such-image"* ]]
  # the daemon is fine and other pods still run
  "$TANK" apply -f "$(pod_file fine always "exec sleep 1000")"
  wait_for fine .phase running
  run "$TANK" delete --wait ghost
  [ "$status" -eq 0 ]
  assert_pod_gone ghost
}

@test "a setup failure is reported with its stage and backed off" {
  f=$(pod_file nox always "true")
  sed -i 's|command: \[/bin/sh, -c, "true"\]|command: [/no/such/binary]|' "$f"
  "$TANK" apply -f "$f"
  wait_for nox .phase backing_off
  msg=$(status nox .message)
  echo "$msg"
  [[ "$msg" == *"stage=exec"* ]]
  wait_for nox .containers[0].exit_code 127
}

@test "orphans: a pod removed from the store while tankd was down is stopped and cleaned" {
  "$TANK" apply -f "$(pod_file orphan always "exec sleep 1000")"
  wait_for orphan .phase running
  pid=$(cpid orphan)
  kill -9 "$TANKD_PID"
  wait "$TANKD_PID" 2>/dev/null || true
  TANKD_PID=
  # a tankd on another store: it finds the pod in $RUN but not among its desired pods
  mv "$tmp/data/state.db" "$tmp/state.db.old"
  rm -f "$tmp/data/state.db-wal" "$tmp/data/state.db-shm"
  start_tankd
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "$pid" 2>/dev/null
  for _ in $(seq 100); do [ -e "$tmp/run/pods/orphan" ] || break; sleep 0.1; done
  assert_pod_gone orphan
}

@test "a macvlan pod: link and address in its netns, drift repaired by the resync, nothing left after delete" {
  stop_tankd
  ns=tkdp$$
  ip netns add $ns
  nsenter --net=/run/netns/$ns ip link set lo up
  nsenter --net=/run/netns/$ns ip link add tkdpbr0 type bridge
  nsenter --net=/run/netns/$ns ip link set tkdpbr0 up
  # the registry is on the host's loopback: pull before tankd moves into the test namespace
  "$TANK" image pull "$IMAGE" >/dev/null
  TANKD_WRAP="nsenter --net=/run/netns/$ns" TANK_RESYNC=500ms start_tankd
  f=$(pod_file mv always "exec sleep 1000")
  cat >>"$f" <<EOF2
network:
  nics:
    - {name: eth0, parent: tkdpbr0, ip: 10.98.0.5/24}
EOF2
  "$TANK" apply -f "$f"
  wait_for mv .phase running
  pnet=$tmp/run/pods/mv/ns/net
  nsenter --net="$pnet" ip -o addr show eth0 | grep -q "10.98.0.5/24"
  nsenter --net="$pnet" ip -d link show eth0 | grep -q macvlan
  [ "$(status mv .ips[0])" = 10.98.0.5 ]
  # drift: the address removed by hand comes back within a resync or two
  nsenter --net="$pnet" ip addr del 10.98.0.5/24 dev eth0
  for _ in $(seq 60); do
    nsenter --net="$pnet" ip -o addr show eth0 | grep -q "10.98.0.5/24" && break
    sleep 0.1
  done
  nsenter --net="$pnet" ip -o addr show eth0 | grep -q "10.98.0.5/24"
  grep -q "pod mv: network drift repaired" "$tmp/tankd.log"
  run "$TANK" delete --wait mv
  [ "$status" -eq 0 ]
  assert_pod_gone mv
  # the macvlan went with the pod's namespace: only lo and the bridge are left
  [ "$(nsenter --net=/run/netns/$ns ip -o link show | wc -l)" = 2 ]
  stop_tankd
  ip netns del $ns
}

@test "drift: a memory limit changed by hand is put back by the resync" {
  stop_tankd
  TANK_RESYNC=500ms start_tankd
  "$TANK" apply -f "$(pod_file lim always "exec sleep 1000" "    limits: {memory: 64Mi}")"
  wait_for lim .phase running
  mem=/sys/fs/cgroup/memory/$TANK_CGROUP_ROOT/lim/main/memory.limit_in_bytes
  echo $((256 << 20)) >"$mem"
  for _ in $(seq 60); do [ "$(cat "$mem")" = $((64 << 20)) ] && break; sleep 0.1; done
  [ "$(cat "$mem")" = $((64 << 20)) ]
}

@test "drift: a dead shim — its container is killed and restarted under the policy" {
  "$TANK" apply -f "$(pod_file ds always "exec sleep 1000")"
  wait_for ds .phase running
  pid=$(cpid ds)
  shim=$(jq -r .shim_pid "$tmp/run/pods/ds/main/state.json")
  kill -9 "$shim"
  wait_ge ds .restarts 1
  wait_for ds .phase running
  [ "$(cpid ds)" != "$pid" ]
  ! kill -0 "$pid" 2>/dev/null
  ! grep -q . <(ps -o stat= --ppid "$TANKD_PID" | grep Z)
  grep -q "tank-shim died" <("$TANK" inspect ds; cat "$tmp/tankd.log") || true
}
