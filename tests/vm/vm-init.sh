#!/bin/sh
# PID 1 of the test VM: mounts the basics and pure cgroup2, runs the one test
# that needs the initramfs root (pivot_root refuses it), then moves onto a
# tmpfs root (switch_root) where the other tests run.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
if [ "$1" != stage2 ]; then
  insmod /overlay.ko || echo "TKRT: insmod overlay failed"
  # initramfs is not a mount: pivot_root fails, and must say so with its stage
  mount -t cgroup2 none /sys/fs/cgroup
  mkdir -p /t/pivot
  tank-shim --foreground /t/pivot.json >/dev/null 2>&1
  if grep -q '"error": "stage=pivot_root errno=EINVAL' /t/pivot/state/exit.json; then
    echo "ok 1 - v2: pivot_root failure is reported with its stage"
  else
    echo "not ok 1 - v2: pivot_root failure is reported with its stage"; cat /t/pivot/state/exit.json
  fi
  umount /sys/fs/cgroup
  mkdir /newroot
  mount -t tmpfs -o size=400m tmpfs /newroot
  for d in bin lib lib64 usr etc img t init tests.sh overlay.ko sbin; do
    [ -e "/$d" ] && cp -a "/$d" /newroot/
  done
  mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/tmp
  umount /proc /sys /tmp; umount /dev
  exec switch_root /newroot /init stage2
fi
mount -t cgroup2 none /sys/fs/cgroup
/tests.sh
echo TKRT-DONE
poweroff -f
