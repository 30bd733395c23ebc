#!/usr/bin/env bats
# Pod networking end to end: macvlan NICs on a bridge uplink inside a test
# namespace acting as the host; real namespaces, real traffic (busybox).
load helpers
load net_helpers

setup() { net_setup; }
teardown() { net_teardown; }

NIC_A='{"mode":"nics","nics":[{"name":"eth0","parent":"tknbr0","ip":["10.77.0.2/24","fd77::2/64"]}]}'
NIC_B='{"mode":"nics","nics":[{"name":"eth0","parent":"tknbr0","ip":["10.77.0.3/24","fd77::3/64"]}]}'

@test "two pods on one uplink talk TCP over IPv4 and IPv6" {
  pod a "$NIC_A"
  pod b "$NIC_B"
  serve a
  run fetch "$(podns b)" http://10.77.0.2:8080/
  [ "$status" -eq 0 ]
  [ "$output" = "hello from a" ]
  run fetch "$(podns b)" "http://[fd77::2]:8080/"
  [ "$status" -eq 0 ]
  [ "$output" = "hello from a" ]
}

@test "a LAN host on the uplink reaches a pod" {
  ip netns add $LANNS
  hostexec ip link add tknvl0 type veth peer name tknvl1
  hostexec ip link set tknvl0 netns $LANNS
  hostexec ip link set tknvl1 master tknbr0 up
  ip -n $LANNS link set tknvl0 up
  ip -n $LANNS addr add 10.77.0.50/24 dev tknvl0
  pod a "$NIC_A"
  serve a
  run fetch /run/netns/$LANNS http://10.77.0.2:8080/
  [ "$status" -eq 0 ]
  [ "$output" = "hello from a" ]
}

@test "network none has only loopback, and it is up" {
  pod quiet '{"mode":"none"}'
  run podexec quiet ip -o link show
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "${lines[0]}" == *"lo: <LOOPBACK,UP"* ]]
  run podexec quiet ip -o addr show
  [[ "$output" == *"127.0.0.1/8"* ]]
}

@test "network host sees the host's links and resolv.conf" {
  pod hosty '{"mode":"host"}'
  run podexec hosty ip -o link show tknbr0
  [ "$status" -eq 0 ]
  cmp "$RUN/host-resolv.conf" "$RUN/pods/hosty/etc/resolv.conf"
  [ "$(nsenter --uts="$RUN/pods/hosty/ns/uts" hostname)" = hosty ]
}

@test "the host interface lets the host reach a pod" {
  hostexec ip addr add 10.77.0.254/24 dev tknbr0
  pod a "$NIC_A"
  serve a
  # A macvlan never talks to its parent: the host's address on the bridge cannot reach the pod.
  run timeout 2 nsenter --net=$HOSTNS_FILE "$BUSYBOX" wget -q -O - http://10.77.0.2:8080/
  [ "$status" -ne 0 ]
  # Move the host's address onto a macvlan of the uplink.
  hostexec ip addr del 10.77.0.254/24 dev tknbr0
  printf '%s\n' '{"nics":[{"name":"tknhif0","parent":"tknbr0","ip":["10.77.0.254/24"]}]}' >"$RUN/hostif.json"
  hostexec "$NETTOOL" hostif-up "$RUN/hostif.json"
  hostexec "$NETTOOL" hostif-up "$RUN/hostif.json" # idempotent
  run fetch $HOSTNS_FILE http://10.77.0.2:8080/
  [ "$status" -eq 0 ]
  [ "$output" = "hello from a" ]
  hostexec "$NETTOOL" hostif-down tknhif0
  hostexec "$NETTOOL" hostif-down tknhif0 # absent is fine
  run hostexec ip link show tknhif0
  [ "$status" -ne 0 ]
}

@test "several NICs on two uplinks with a default route per family" {
  hostexec ip link add tknbr1 type bridge
  hostexec ip link set tknbr1 up
  pod multi '{"mode":"nics","nics":[
    {"name":"eth0","parent":"tknbr0","ip":["10.77.0.4/24","10.77.1.4/24"],"gateway":"10.77.0.1"},
    {"name":"eth1","parent":"tknbr1","ip":["10.78.0.4/24","fd78::4/64","fd79::4/64"],"gateway":"fd78::1"}]}'
  pod b '{"mode":"nics","nics":[{"name":"eth0","parent":"tknbr1","ip":["10.78.0.5/24","fd78::5/64"]}]}'
  run podexec multi ip -o link show
  [[ "$output" == *"eth0@"* && "$output" == *"eth1@"* ]]
  run podexec multi ip -4 route show default
  [ "$output" = "default via 10.77.0.1 dev eth0 proto static " ]
  run podexec multi ip -6 route show default
  [[ "$output" == "default via fd78::1 dev eth1 proto static"* ]]
  run podexec multi ip -o addr show dev eth0
  [[ "$output" == *10.77.0.4/24* && "$output" == *10.77.1.4/24* ]]
  run podexec multi ip -o addr show dev eth1
  [[ "$output" == *fd78::4/64* && "$output" == *fd79::4/64* ]]
  # The second uplink carries traffic of its own.
  serve b
  run fetch "$(podns multi)" "http://[fd78::5]:8080/"
  [ "$output" = "hello from b" ]
}

@test "a NIC's MAC is stable across re-creation, and mac: wins" {
  pod a "$NIC_A"
  mac1=$(mac_of a eth0)
  want=$("$NETTOOL" mac a 0)
  [ "$mac1" = "$want" ]
  [[ "$mac1" == 02:* ]]
  hostexec "$NETTOOL" destroy "$RUN" a
  pod a "$NIC_A"
  [ "$(mac_of a eth0)" = "$mac1" ]
  [ "$("$NETTOOL" mac b 0)" != "$mac1" ]
  [ "$("$NETTOOL" mac a 1)" != "$mac1" ]
  pod c '{"mode":"nics","nics":[{"name":"eth0","parent":"tknbr0","ip":"10.77.0.9/24","mac":"02:00:00:00:00:09"}]}'
  [ "$(mac_of c eth0)" = 02:00:00:00:00:09 ]
}

@test "custom MTU and extra routes" {
  pod a '{"mode":"nics","nics":[{"name":"eth0","parent":"tknbr0","mtu":1400,
    "ip":["10.77.0.2/24","fd77::2/64"],
    "routes":[{"to":"10.99.0.0/16","via":"10.77.0.3"},{"to":"192.168.200.0/24"},
              {"to":"fd99::/48","via":"fd77::3"}]}]}'
  [ "$(podexec a cat /sys/class/net/eth0/mtu)" = 1400 ]
  run podexec a ip -4 route show
  [[ "$output" == *"10.99.0.0/16 via 10.77.0.3 dev eth0 proto static"* ]]
  [[ "$output" == *"192.168.200.0/24 dev eth0 proto static scope link"* ]]
  run podexec a ip -6 route show
  [[ "$output" == *"fd99::/48 via fd77::3 dev eth0 proto static"* ]]
  # No gateway given: no default route.
  [ -z "$(podexec a ip -4 route show default)" ]
}

@test "macvlan modes bridge, private, vepa and passthru" {
  hostexec ip link add tknbr1 type bridge
  hostexec ip link set tknbr1 up
  pod m1 '{"mode":"nics","nics":[{"name":"eth0","parent":"tknbr0","macvlan_mode":"private","ip":"10.77.0.11/24"}]}'
  pod m2 '{"mode":"nics","nics":[{"name":"eth0","parent":"tknbr0","macvlan_mode":"vepa","ip":"10.77.0.12/24"}]}'
  pod m3 '{"mode":"nics","nics":[{"name":"eth0","parent":"tknbr1","macvlan_mode":"passthru","ip":"10.78.0.13/24"}]}'
  [[ "$(podexec m1 ip -d link show eth0)" == *"macvlan mode private"* ]]
  [[ "$(podexec m2 ip -d link show eth0)" == *"macvlan mode vepa"* ]]
  [[ "$(podexec m3 ip -d link show eth0)" == *"macvlan mode passthru"* ]]
  # passthru takes the parent's MAC
  [ "$(mac_of m3 eth0)" = "$(hostexec ip -o link show tknbr1 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)" ]
  hostexec "$NETTOOL" check "$RUN" m3 "$RUN/m3.json"
}

@test "parent omitted: the configured uplink, else the default route's interface" {
  hostexec ip link add tknbr1 type bridge
  hostexec ip link set tknbr1 up
  hostexec ip addr add 10.76.0.1/24 dev tknbr1
  hostexec ip route add default via 10.76.0.254 dev tknbr1
  pod auto '{"mode":"nics","nics":[{"name":"eth0","ip":"10.76.0.2/24"}]}'
  [[ "$(podexec auto ip -o link show eth0)" == *"eth0@if$(hostexec ip -o link show tknbr1 | cut -d: -f1)"* ]]
  TANK_UPLINK=tknbr0 pod conf '{"mode":"nics","nics":[{"name":"eth0","ip":"10.77.0.2/24"}]}'
  [[ "$(podexec conf ip -o link show eth0)" == *"eth0@if$(hostexec ip -o link show tknbr0 | cut -d: -f1)"* ]]
}

@test "no default route and no parent is a clear error" {
  run pod auto '{"mode":"nics","nics":[{"name":"eth0","ip":"10.76.0.2/24"}]}'
  [ "$status" -ne 0 ]
  [[ "$output" == *"no default route"* ]]
  [ ! -e "$RUN/pods/auto" ]
}

@test "the host interface with only a route to the pod: the host keeps its address" {
  hostexec ip addr add 10.77.0.254/24 dev tknbr0
  pod a "$NIC_A"
  serve a
  printf '%s\n' '{"nics":[{"name":"tknhif0","parent":"tknbr0","routes":[{"to":"10.77.0.2/32"}]}]}' >"$RUN/hostif.json"
  hostexec "$NETTOOL" hostif-up "$RUN/hostif.json"
  run fetch $HOSTNS_FILE http://10.77.0.2:8080/
  [ "$status" -eq 0 ]
  [ "$output" = "hello from a" ]
  hostexec "$NETTOOL" hostif-down tknhif0
}
