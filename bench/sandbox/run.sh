#!/usr/bin/env bash
# bench/sandbox: a pod sandbox with one macvlan NIC configured, Tank against
# iproute2 doing the same network work. Root. Runs inside a test namespace
# (tknbh$$) with a bridge as the uplink; never touches the real eth0.
#
#   Tank (in process): sandbox_create = clone helper (net+uts+ipc, hostname,
#     3 bind mounts) + macvlan created in the pod netns + address + up + lo up
#     + resolv.conf/hosts/hostname; then sandbox_destroy.
#   Tank (CLI): the same through one tank-nettool process per create.
#   iproute2: ip netns add + ip link add ... macvlan (netns) + ip addr add +
#     ip link set up (4 processes), then ip netns del.
#
# Usage: bench/sandbox/run.sh [ROUNDS] (default 200). Prints medians and ratios.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-200}
tool=${TANK_BUILD:-$PWD/build}/tests/helpers/tank-nettool
[ "$(id -u)" -eq 0 ] || { echo "bench/sandbox: needs root" >&2; exit 1; }
[ -x "$tool" ] || { echo "bench/sandbox: build first (meson compile -C build)" >&2; exit 1; }

run=$(mktemp -d /tmp/tkn-bench.XXXXXX)
cleanup() {
  for d in "$run"/pods/*; do [ -d "$d" ] && nsenter --net=/run/netns/tknbh$$ "$tool" destroy "$run" "$(basename "$d")"; done
  for ns in $(ip netns list | awk '/^tknbp'$$'-/ {print $1}'); do ip netns del "$ns"; done
  [ -e /run/netns/tknbh$$ ] && ip netns del tknbh$$
  rm -rf "$run"
}
trap cleanup EXIT
ip netns add tknbh$$
ip -n tknbh$$ link add tknbbr0 type bridge
ip -n tknbh$$ link set tknbbr0 up
host() { nsenter --net=/run/netns/tknbh$$ "$@"; }
export TANK_HOST_RESOLV_CONF=$run/resolv.conf
echo "nameserver 10.77.0.1" >"$TANK_HOST_RESOLV_CONF"

now_us() { echo $(($(date +%s%N) / 1000)); }
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f", m/1000}'; }

# Tank, in process (what tankd pays).
out=$(host "$tool" bench "$run" "$rounds" tknbbr0)
tank_create_ms=$(awk '$1 == "create_ms" {print $2}' <<<"$out")
tank_destroy_ms=$(awk '$1 == "destroy_ms" {print $2}' <<<"$out")

# Tank, one process per create (comparable with one `ip` process per step).
printf '{"mode":"nics","nics":[{"name":"eth0","parent":"tknbbr0","ip":"10.77.0.2/24"}]}\n' >"$run/cfg.json"
: >"$run/tank-cli.us"
for i in $(seq 1 "$rounds"); do
  t0=$(now_us)
  host "$tool" create "$run" "tknc$i" "$run/cfg.json"
  t1=$(now_us)
  echo $((t1 - t0)) >>"$run/tank-cli.us"
  host "$tool" destroy "$run" "tknc$i"
done

# iproute2 doing the same network work.
: >"$run/ip.us"
: >"$run/ipdel.us"
for i in $(seq 1 "$rounds"); do
  t0=$(now_us)
  ip netns add "tknbp$$-$i"
  ip -n tknbh$$ link add link tknbbr0 name eth0 netns "tknbp$$-$i" type macvlan mode bridge
  ip -n "tknbp$$-$i" addr add 10.77.0.2/24 dev eth0
  ip -n "tknbp$$-$i" link set eth0 up
  t1=$(now_us)
  ip netns del "tknbp$$-$i"
  t2=$(now_us)
  echo $((t1 - t0)) >>"$run/ip.us"
  echo $((t2 - t1)) >>"$run/ipdel.us"
done

tank_cli_ms=$(median <"$run/tank-cli.us")
ip_ms=$(median <"$run/ip.us")
ipdel_ms=$(median <"$run/ipdel.us")
echo "rounds: $rounds"
printf '%-44s %8s ms\n' "Tank sandbox_create (in process, mean)" "$tank_create_ms"
printf '%-44s %8s ms\n' "Tank tank-nettool create (process, median)" "$tank_cli_ms"
printf '%-44s %8s ms\n' "iproute2 4 commands (median)" "$ip_ms"
printf '%-44s %8s ms\n' "Tank sandbox_destroy (in process, mean)" "$tank_destroy_ms"
printf '%-44s %8s ms\n' "ip netns del (median)" "$ipdel_ms"
awk -v a="$ip_ms" -v b="$tank_create_ms" -v c="$tank_cli_ms" 'BEGIN {
  printf "ratio iproute2 / Tank in process: %.1fx\nratio iproute2 / Tank CLI:        %.1fx\n", a / b, a / c }'
