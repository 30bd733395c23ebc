#!/usr/bin/env bats
# Pod sandboxes: namespaces held by bind mounts, hostname, generated /etc
# files, drift detection and repair, complete teardown.
load helpers
load net_helpers

setup() { net_setup; }
teardown() { net_teardown; }

NIC='{"mode":"nics","nics":[{"name":"eth0","parent":"tknbr0","ip":["10.77.0.2/24","fd77::2/64"],
  "gateway":["10.77.0.1","fd77::1"],"routes":[{"to":"10.99.0.0/16","via":"10.77.0.3"}]}]}'

@test "a sandbox holds net, uts and ipc namespaces with the pod name as hostname" {
  pod web "$NIC"
  for ns in net uts ipc; do
    grep -q " $RUN/pods/web/ns/$ns " /proc/self/mountinfo
  done
  [ "$(nsenter --uts="$RUN/pods/web/ns/uts" hostname)" = web ]
  [ "$(stat -L -c %i "$RUN/pods/web/ns/ipc")" != "$(stat -L -c %i /proc/self/ns/ipc)" ]
  [ "$(stat -L -c %i "$RUN/pods/web/ns/net")" != "$(stat -L -c %i /run/netns/$HOSTNS)" ]
  [ "$(cat "$RUN/pods/web/etc/hostname")" = web ]
  # Docker's per-pod defaults: unprivileged ping and low ports, in the pod only.
  [ "$(podexec web cat /proc/sys/net/ipv4/ping_group_range)" = "0	2147483647" ]
  [ "$(podexec web cat /proc/sys/net/ipv4/ip_unprivileged_port_start)" = 0 ]
  [ "$(hostexec cat /proc/sys/net/ipv4/ip_unprivileged_port_start)" = 1024 ]
  # A second create of the same pod is refused and leaves the first intact.
  run hostexec "$NETTOOL" create "$RUN" web "$RUN/web.json"
  [ "$status" -ne 0 ]
  [[ "$output" == *"File exists"* ]]
  hostexec "$NETTOOL" check "$RUN" web "$RUN/web.json"
}

@test "resolv.conf and hosts are generated per pod" {
  printf '%s\n' '{"mode":"nics","nics":[{"name":"eth0","parent":"tknbr0","ip":["10.77.0.2/24","fd77::2/64"]}],
    "dns":["10.77.0.1","fd77::1"],"search":["svc.test","test"],"options":["ndots:2","timeout:1"]}' >"$RUN/d.json"
  hostexec "$NETTOOL" create "$RUN" dns "$RUN/d.json"
  run cat "$RUN/pods/dns/etc/resolv.conf"
  [[ "$output" == *"search svc.test test"* ]]
  [[ "$output" == *"nameserver 10.77.0.1"* && "$output" == *"nameserver fd77::1"* ]]
  [[ "$output" == *"options ndots:2 timeout:1"* ]]
  run cat "$RUN/pods/dns/etc/hosts"
  [[ "$output" == *"127.0.0.1	localhost"* ]]
  [[ "$output" == *"10.77.0.2	dns"* && "$output" == *"fd77::2	dns"* ]]
  # No dns: the host's resolvers, minus the loopback stub a pod cannot reach.
  pod plain '{"mode":"nics","nics":[{"name":"eth0","parent":"tknbr0","ip":"10.77.0.3/24"}]}'
  run cat "$RUN/pods/plain/etc/resolv.conf"
  [[ "$output" == *"nameserver 10.77.0.53"* ]]
  [[ "$output" != *"127.0.0.53"* ]]
  [[ "$output" == *"search lan.test"* && "$output" == *"options edns0"* ]]
}

@test "drift: a removed address, route or link is detected and repaired" {
  pod web "$NIC"
  hostexec "$NETTOOL" check "$RUN" web "$RUN/web.json"
  podexec web ip addr del fd77::2/64 dev eth0
  run hostexec "$NETTOOL" check "$RUN" web "$RUN/web.json"
  [ "$status" -eq 1 ]
  [[ "$output" == *"nic eth0: address fd77::2/64 missing"* ]]
  hostexec "$NETTOOL" repair "$RUN" web "$RUN/web.json"
  hostexec "$NETTOOL" check "$RUN" web "$RUN/web.json"
  podexec web ip route del 10.99.0.0/16
  run hostexec "$NETTOOL" check "$RUN" web "$RUN/web.json"
  [ "$status" -eq 1 ]
  [ "$output" = "nic eth0: route 10.99.0.0/16 via 10.77.0.3 missing" ]
  podexec web ip link del eth0
  run hostexec "$NETTOOL" check "$RUN" web "$RUN/web.json"
  [ "$status" -eq 1 ]
  [ "$output" = "nic eth0: missing" ]
  podexec web ip link set lo down
  run hostexec "$NETTOOL" check "$RUN" web "$RUN/web.json"
  [[ "$output" == *"lo: down"* ]]
  hostexec "$NETTOOL" repair "$RUN" web "$RUN/web.json"
  hostexec "$NETTOOL" check "$RUN" web "$RUN/web.json"
  # A spec change (mtu) is drift too; repair replaces the link.
  sed 's/"name":"eth0",/"name":"eth0","mtu":1300,/' "$RUN/web.json" >"$RUN/web2.json"
  run hostexec "$NETTOOL" check "$RUN" web "$RUN/web2.json"
  [ "$output" = "nic eth0: mtu 1500, want 1300" ]
  hostexec "$NETTOOL" repair "$RUN" web "$RUN/web2.json"
  hostexec "$NETTOOL" check "$RUN" web "$RUN/web2.json"
}

@test "drift: a sandbox whose namespaces were unmounted is reported" {
  pod web "$NIC"
  umount "$RUN/pods/web/ns/net"
  run hostexec "$NETTOOL" check "$RUN" web "$RUN/web.json"
  [ "$status" -eq 1 ]
  [ "$output" = "sandbox: namespaces not bound" ]
  run hostexec "$NETTOOL" repair "$RUN" web "$RUN/web.json"
  [ "$status" -ne 0 ]
}

@test "nothing leaks: teardown removes mounts, files, links and routes" {
  pod a "$NIC"
  pod b '{"mode":"none"}'
  pod c '{"mode":"host"}'
  netns_a=$(stat -L -c %i "$RUN/pods/a/ns/net")
  links_before=$(hostexec ip -o link show | wc -l)
  routes_before=$(hostexec ip route show table all | wc -l)
  for p in a b c; do hostexec "$NETTOOL" destroy "$RUN" $p; done
  hostexec "$NETTOOL" destroy "$RUN" a # idempotent
  ! grep -q " $RUN/" /proc/self/mountinfo
  [ -z "$(ls -A "$RUN/pods")" ]
  # The host side never had the pod's links; it has no new links or routes either.
  [ "$(hostexec ip -o link show | wc -l)" = "$links_before" ]
  [ "$(hostexec ip route show table all | wc -l)" = "$routes_before" ]
  ! hostexec ip -o link show | grep -q macvlan
  # The pod's network namespace is gone (no process or mount holds it).
  ! lsns -t net -n -o NS | grep -qx "$netns_a"
}

@test "a failed create leaves nothing behind" {
  run pod bad '{"mode":"nics","nics":[{"name":"eth0","parent":"tknnope0","ip":"10.77.0.2/24"}]}'
  [ "$status" -ne 0 ]
  [[ "$output" == *"tknnope0"* ]]
  [ ! -e "$RUN/pods/bad" ]
  run pod bad2 '{"mode":"nics","nics":[{"name":"eth0","parent":"tknbr0","ip":"10.77.0.2/24","gateway":"10.1.2.3"}]}'
  [ "$status" -ne 0 ]
  [[ "$output" == *"gateway 10.1.2.3 is in none of its IPv4 subnets"* ]]
  [ ! -e "$RUN/pods/bad2" ]
  run pod Bad_Name '{"mode":"none"}'
  [ "$status" -ne 0 ]
  [[ "$output" == *"not a DNS label"* ]]
  ! grep -q " $RUN/" /proc/self/mountinfo
}
