#!/usr/bin/env bash
# Runs tank-shim's limit tests against pure cgroup v2 in a VM: Debian's stock
# kernel (apt-get download + dpkg-deb -x, no install) under qemu-system-x86_64
# (TCG), booted with a busybox initramfs that carries tank-shim, its libraries,
# the busybox image layers, the configs and the test script. Prints the VM's
# TAP-like lines ("ok N - name" / "not ok N - name") and exits non-zero when
# any failed or the VM did not finish.
#
# Usage: cgroup-v2-vm.sh SHIM_BINARY FIXTURE_DIR WORK_DIR
# TKRT_VM_CACHE: where the kernel package is kept between runs.
set -euo pipefail
shim=$1 fixture=$2 work=$3
cache=${TKRT_VM_CACHE:-/var/tmp/tkrt-vm-kernel}
here=$(cd "$(dirname "$0")" && pwd)

# 1. Kernel (cached): the package linux-image-amd64 depends on.
mkdir -p "$cache"
if [ ! -e "$cache/.done" ]; then
  pkg=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n 1)
  [ -n "$pkg" ] || { echo "cannot find the kernel package behind linux-image-amd64" >&2; exit 1; }
  rm -rf "${cache:?}"/*
  (cd "$cache" && apt-get download -q "$pkg" >/dev/null 2>&1 && dpkg-deb -x ./*.deb x)
  # keep only what the VM needs (the whole package unpacks to ~450 MB)
  cp "$cache"/x/boot/vmlinuz-* "$cache/"
  ko=$(find "$cache"/x/lib/modules -name 'overlay.ko*' | head -n 1)
  cp "$ko" "$cache/${ko##*/}"
  rm -rf "$cache/x" "$cache"/*.deb
  touch "$cache/.done"
fi
vmlinuz=$(ls "$cache"/vmlinuz-* | head -n 1)
overlay_ko=$(ls "$cache"/overlay.ko* | head -n 1)

# 2. initramfs: busybox, the shim + its shared libraries, overlay.ko, image, tests.
root=$work/initramfs
rm -rf "$root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib,lib64,etc,img,t}
cp /bin/busybox "$root/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"; done
ln -s bin "$root/sbin"
cp "$shim" "$root/bin/tank-shim"
for lib in $(ldd "$shim" | grep -o '/[^ ]*'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
case $overlay_ko in
  *.xz) xz -dc "$overlay_ko" >"$root/overlay.ko" ;;
  *.zst) zstd -dcq "$overlay_ko" >"$root/overlay.ko" ;;
  *) cp "$overlay_ko" "$root/overlay.ko" ;;
esac
cp -a "$fixture/layers" "$root/img/"
cp "$fixture/image.json" "$root/img/image.json"

# Configs, written here with jq (the VM has no jq); every path is inside the VM.
config() { # name, jq filter
  jq -n --arg n "$1" '{
    id: $n, state_dir: ("/t/" + $n + "/state"),
    rootfs: {layers: ["/img/layers/base", "/img/layers/etc"], upper: ("/t/" + $n + "/upper"),
             work: ("/t/" + $n + "/work"), mountpoint: ("/t/" + $n + "/rootfs")},
    image_config: "/img/image.json", hostname: "tkrt-vm",
    namespaces: {create: ["mount", "pid", "cgroup", "net", "uts", "ipc"]},
    cgroup: {path: ("tank-tkrt-test/" + $n)}, stop: {timeout_ms: 100}
  }' | jq "$2" >"$root/t/$1.json"
}
config pivot '.process = {command: ["true"]}'
config memory '.process = {command: ["tail", "/dev/zero"]} | .cgroup.limits = {memory_bytes: 33554432}'
config pids '.process = {command: ["sh", "-c", "(i=0; while [ $i -lt 60 ]; do sleep 30 & i=$((i+1)); done) 2>/dev/null; echo done-forking; exec sleep 30"]} | .cgroup.limits = {pids: 16}'
config cpu '.process = {command: ["sh", "-c", "while :; do :; done & sleep 1; kill $!"]} | .cgroup.limits = {cpu_quota_us: 20000, cpu_period_us: 100000}'
config cgns '.process = {command: ["cat", "/proc/self/cgroup"]} | .cgroup.limits = {pids: 50}'
config devices '.process = {command: ["sh", "-c", "mknod /dev/f c 10 229 && echo made; cat /dev/f; mknod /dev/n2 c 1 3 && echo x > /dev/n2 && echo null-ok"]}'
config stop '.process = {command: ["sh", "-c", "trap \"\" TERM; sleep 1000 & wait"]}'
cp "$here/vm-init.sh" "$root/init"
cp "$here/vm-tests.sh" "$root/tests.sh"
chmod +x "$root/init" "$root/tests.sh"
(cd "$root" && find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$work/initramfs.cpio.gz"

# 3. Boot. cgroup_no_v1=all leaves every controller to the one cgroup2 mount.
timeout 300 qemu-system-x86_64 -accel tcg -m 1024 -smp 2 -nographic -no-reboot \
  -kernel "$vmlinuz" -initrd "$work/initramfs.cpio.gz" \
  -append "console=ttyS0 quiet loglevel=3 panic=-1 cgroup_no_v1=all rdinit=/init" \
  </dev/null >"$work/console.log" 2>&1 || true
tr -d '\r' <"$work/console.log" | grep -oE '((not )?ok [0-9]+ - .*|# .*|TKRT.*)$' || true
grep -q 'TKRT-DONE' "$work/console.log" || { echo "the VM did not finish; console:" >&2; tail -n 40 "$work/console.log" >&2; exit 1; }
! grep -q 'not ok [0-9]' "$work/console.log"
