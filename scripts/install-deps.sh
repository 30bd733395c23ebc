#!/usr/bin/env bash
# Installs every build, test and benchmark dependency of Tank from Debian's
# packages. Idempotent: packages already present are not fetched again, and
# `apt-get update` runs only when something is missing.
set -euo pipefail

build=(meson ninja-build pkg-config gcc clang libclang-rt-14-dev clang-format
       libsystemd-dev libjansson-dev libyaml-dev libmicrohttpd-dev
       libcurl4-openssl-dev libssl-dev libarchive-dev libsqlite3-dev
       libnl-3-dev libnl-route-3-dev libseccomp-dev)
test=(libcmocka-dev bats jq python3 sqlite3 etcd-server etcd-client
      docker-registry skopeo umoci busybox-static iproute2 procps util-linux
      tmux valgrind openssl apache2-utils zstd curl libcap2-bin)
bench=(crun runc podman hyperfine qemu-system-x86)

want=("${build[@]}" "${test[@]}")
[ "${TANK_DEPS_NO_BENCH:-0}" = 1 ] || want+=("${bench[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
    missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#want[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: need root to install: ${missing[*]}" >&2
  exit 1
fi

echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Services some packages start on install (docker-registry, etcd) are not wanted:
# tests start their own instances on loopback with their own configs.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
fi
trap '[ $created_policy = 1 ] && rm -f "$policy"' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/tank-install-deps.log 2>&1 || {
  echo "install-deps: apt-get install failed; last lines of /tmp/tank-install-deps.log:" >&2
  tail -n 30 /tmp/tank-install-deps.log >&2
  exit 1
}
echo "install-deps: done"
