# Helpers for the exec/attach tests against a real tankd: a busybox rootfs
# image (rootfs: transport), a pod with a plain container and a tty one, and a
# teardown that deletes the pod before stopping tankd.

# Builds (once per bats file) $ROOTFS: busybox, its applets, passwd and group.
exec_rootfs() {
  ROOTFS=${BATS_FILE_TMPDIR:-/tmp}/tkex-rootfs
  [ -e "$ROOTFS/.done" ] && return 0
  mkdir -p "$ROOTFS/bin" "$ROOTFS/etc" "$ROOTFS/tmp" "$ROOTFS/root" "$ROOTFS/home/app"
  chmod 1777 "$ROOTFS/tmp"
  cp /bin/busybox "$ROOTFS/bin/busybox"
  local a
  for a in $(/bin/busybox --list); do
    [ "$a" = busybox ] || ln -s busybox "$ROOTFS/bin/$a"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n' >"$ROOTFS/etc/passwd"
  printf 'root:x:0:\napp:x:1000:\n' >"$ROOTFS/etc/group"
  echo from-the-image >"$ROOTFS/etc/marker"
  touch "$ROOTFS/.done"
}

# exec_pod_up [RESTART]: tankd on a fresh store, pod `ex` with containers `app`
# (sleep, env GREETING) and `shell` (sh on a tty), running.
exec_pod_up() {
  require_root
  exec_rootfs
  tmp=$(make_tmp)
  export TANK_CGROUP_ROOT=tank-tkex-$$-${BATS_TEST_NUMBER:-0}
  start_tankd
  cat >"$tmp/pod.yaml" <<Y
name: ex
restart: ${1:-always}
backoff: {initial: 100ms, max: 1s}
containers:
  - name: app
    image: rootfs:$ROOTFS
    command: [sleep, "100000"]
    env: {GREETING: hello-from-spec}
    working_dir: /tmp
  - name: shell
    image: rootfs:$ROOTFS
    command: [sh]
    tty: true
Y
  "$TANK" apply -f "$tmp/pod.yaml" >/dev/null
  wait_phase ex running
}

# wait_phase POD PHASE: bounded wait for the pod's phase.
wait_phase() {
  local i
  for i in $(seq 1 200); do
    [ "$("$TANK" inspect "$1" 2>/dev/null | jq -r .status.phase)" = "$2" ] && return 0
    sleep 0.05
  done
  echo "pod $1 never reached $2:"; "$TANK" inspect "$1"; cat "$tmp/tankd.log"
  return 1
}

# ctr_field POD CONTAINER JQ: a field of the container's status.
ctr_field() {
  "$TANK" inspect "$1" | jq -r --arg c "$2" ".status.containers[] | select(.name == \$c) | $3"
}

exec_pod_down() {
  [ -n "${tmp:-}" ] || return 0
  if [ -n "${TANKD_PID:-}" ]; then
    timeout 30 "$TANK" delete --wait ex >/dev/null 2>&1 || true
    stop_tankd
  fi
  # the test's cgroup root (empty once the pod is gone, give or take a dying
  # task: retried briefly), in every hierarchy
  local c i
  for c in /sys/fs/cgroup/*/"$TANK_CGROUP_ROOT" /sys/fs/cgroup/"$TANK_CGROUP_ROOT"; do
    for i in $(seq 20); do
      [ -d "$c" ] || break
      find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || sleep 0.05
    done
  done
  rm -rf "$tmp"
}
