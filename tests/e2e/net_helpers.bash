# Helpers for the sandbox and network tests: a test namespace acting as the
# host (tknh<pid>), a bridge there as the uplink (tknbr0; never the real eth0),
# and pods made by tank-nettool inside it. Every name starts with `tkn`; the
# namespace names carry the test's PID so two suites can run side by side.

NETTOOL=$TANK_BUILD/tests/helpers/tank-nettool
HOSTNS=tknh$$
LANNS=tknl$$
BUSYBOX=$(command -v busybox)

net_setup() {
  require_root
  [ -x "$NETTOOL" ] || skip "tank-nettool not built"
  [ -n "$BUSYBOX" ] || skip "busybox-static not installed"
  net_teardown_stale
  RUN=$(make_tmp)
  PIDS=()
  ip netns add $HOSTNS
  hostexec ip link set lo up
  hostexec ip link add tknbr0 type bridge
  hostexec ip link set tknbr0 up
  printf 'nameserver 127.0.0.53\nnameserver 10.77.0.53\nsearch lan.test\noptions edns0\n' >"$RUN/host-resolv.conf"
  export TANK_HOST_RESOLV_CONF=$RUN/host-resolv.conf
}

# Leftovers of an interrupted earlier run (only our own names).
net_teardown_stale() {
  local ns
  for ns in $HOSTNS $LANNS; do
    [ -e /run/netns/$ns ] && ip netns del $ns
  done
  return 0
}

net_teardown() {
  local p pod
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  if [ -n "${RUN:-}" ] && [ -d "$RUN/pods" ]; then
    for pod in "$RUN"/pods/*; do
      [ -d "$pod" ] && hostexec "$NETTOOL" destroy "$RUN" "$(basename "$pod")"
    done
  fi
  net_teardown_stale
  if [ -n "${RUN:-}" ]; then
    ! grep -q " $RUN" /proc/self/mountinfo || { echo "leaked mounts under $RUN"; return 1; }
    rm -rf "$RUN"
  fi
}

# Runs a command in the test host namespace (network only: mounts stay shared).
hostexec() {
  nsenter --net=/run/netns/$HOSTNS "$@"
}

# Runs a command in pod $1's network namespace.
podexec() {
  local pod=$1
  shift
  nsenter --net="$RUN/pods/$pod/ns/net" "$@"
}

# pod NAME JSON: creates pod NAME with the given network config.
pod() {
  printf '%s\n' "$2" >"$RUN/$1.json"
  hostexec "$NETTOOL" create "$RUN" "$1" "$RUN/$1.json"
}

# Starts busybox httpd in pod $1 on port 8080 (both families), serving "hello from $1".
serve() {
  mkdir -p "$RUN/www-$1"
  echo "hello from $1" >"$RUN/www-$1/index.html"
  # Not through podexec: a backgrounded function would be a subshell, and $! its pid.
  nsenter --net="$RUN/pods/$1/ns/net" "$BUSYBOX" httpd -f -p 8080 -h "$RUN/www-$1" \
    </dev/null >/dev/null 2>&1 3>&- &
  PIDS+=($!)
}

# fetch NETNS_FILE URL: wget from that network namespace, retried (bounded)
# while the server starts. busybox wget -T segfaults here: timeout bounds it.
fetch() {
  local i
  for i in $(seq 1 20); do
    if timeout 3 nsenter --net="$1" "$BUSYBOX" wget -q -O - "$2" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# The netns file of pod $1, and of the test host.
podns() { echo "$RUN/pods/$1/ns/net"; }
HOSTNS_FILE=/run/netns/$HOSTNS

# mac_of POD DEV: the link's MAC as seen in the pod (not via /sys: that is the host's sysfs).
mac_of() {
  podexec "$1" ip -o link show "$2" | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2
}
