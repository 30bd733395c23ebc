#!/usr/bin/env bats
# IPAM end to end: pod specs (YAML) whose NIC says `ip: {pool: lan}` get an
# address from a pool in a real SQLite store, keep it across re-creation, give
# it back on delete, and a full pool is a clear error.
load helpers
load net_helpers

setup() {
  net_setup
  STORE="sqlite:$RUN/state.db?sync=normal"
  printf '%s\n' '[{"name":"lan","subnet":"10.77.0.0/24","range":["10.77.0.10","10.77.0.12"],
    "gateway":"10.77.0.1","dns":["10.77.0.53"],"reserved":["10.77.0.11"]}]' >"$RUN/pools.json"
}
teardown() { net_teardown; }

# spec NAME: a pod spec with one NIC from the pool.
spec() {
  cat >"$RUN/$1.yaml" <<YAML
name: $1
network:
  nics:
    - name: eth0
      parent: tknbr0
      ip: {pool: lan}
containers:
  - name: app
    image: busybox
YAML
}

podcreate() { spec "$1"; hostexec "$NETTOOL" pod-create "$RUN" "$RUN/$1.yaml" "$STORE" "$RUN/pools.json"; }
addr_of() { podexec "$1" ip -o -4 addr show dev eth0 | awk '{print $4}'; }

@test "a pool NIC gets an address, the pool's gateway and dns, and keeps it across re-creation" {
  podcreate a
  podcreate b
  [ "$(addr_of a)" = 10.77.0.10/24 ]
  [ "$(addr_of b)" = 10.77.0.12/24 ] # .11 is reserved
  [ "$(podexec a ip -4 route show default)" = "default via 10.77.0.1 dev eth0 proto static " ]
  grep -qx 'nameserver 10.77.0.53' "$RUN/pods/a/etc/resolv.conf"
  grep -q '^10.77.0.10	a$' "$RUN/pods/a/etc/hosts"
  hostexec "$NETTOOL" pod-check "$RUN" "$RUN/a.yaml" "$STORE" "$RUN/pools.json"
  # Rebuilt (not deleted): the same address.
  hostexec "$NETTOOL" pod-destroy "$RUN" a "$STORE"
  podcreate a
  [ "$(addr_of a)" = 10.77.0.10/24 ]
  # Pods on pool addresses talk.
  serve a
  run fetch "$(podns b)" http://10.77.0.10:8080/
  [ "$output" = "hello from a" ]
}

@test "a full pool is a clear error; deleting a pod gives its address back" {
  podcreate a
  podcreate b
  run podcreate c
  [ "$status" -ne 0 ]
  [[ "$output" == *"ipam pool \`lan\` exhausted: all 3 addresses in use (c/eth0)"* ]]
  [ ! -e "$RUN/pods/c" ]
  hostexec "$NETTOOL" pod-destroy "$RUN" a "$STORE" --release
  podcreate c
  [ "$(addr_of c)" = 10.77.0.10/24 ]
}
