#!/usr/bin/env bats
# Acceptance 1: for every fixture image, the layers Tank unpacks, overlaid in
# order, equal `umoci unpack` of the same image file by file (type, mode, uid,
# gid, size, content hash, link target, xattrs) - pulled from a real registry
# and through every local transport.
load image_helpers

setup_file() {
  image_setup_file
  start_registry plain 5111 plain
  for t in busybox layers special zstd multiarch; do
    push "$t" "127.0.0.1:5111/tkim/$t:1"
  done
}

teardown_file() {
  image_teardown_file
}

# compare ROOT REF UMOCI_TAG
compare() {
  local root=$1 ref=$2 utag=$3 m=$IMG_TMP/m-$RANDOM
  merge_image "$root" "$ref" "$m"
  [ -d "$IMG_TMP/umoci-$utag" ] ||
    umoci unpack --image "$IMG_TMP/fx/oci:$utag" "$IMG_TMP/umoci-$utag" >/dev/null
  run python3 "$FIXTURES/compare-trees.py" "$m" "$IMG_TMP/umoci-$utag/rootfs"
  umount "$m"
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "registry pull of every fixture image equals umoci unpack" {
  root=$IMG_TMP/root
  for t in busybox layers special; do
    timage pull -q --root "$root" "127.0.0.1:5111/tkim/$t:1"
    compare "$root" "127.0.0.1:5111/tkim/$t:1" "$t"
  done
  # umoci cannot unpack an index; its amd64 entry is the busybox image.
  timage pull -q --root "$root" "127.0.0.1:5111/tkim/multiarch:1"
  compare "$root" "127.0.0.1:5111/tkim/multiarch:1" busybox
}

@test "zstd layer unpacks to the same tree as its gzip twin and shares its layer dir" {
  root=$IMG_TMP/root-z
  timage pull -q --root "$root" "127.0.0.1:5111/tkim/zstd:1"
  compare "$root" "127.0.0.1:5111/tkim/zstd:1" busybox
  timage pull --root "$root" "127.0.0.1:5111/tkim/busybox:1" 2>&1 | grep -q "already present"
}

@test "multi-arch index selects the host platform, --platform another" {
  root=$IMG_TMP/root-ma
  timage pull -q --root "$root" "127.0.0.1:5111/tkim/multiarch:1"
  [ "$(timage inspect --root "$root" 127.0.0.1:5111/tkim/multiarch:1 | jq -r .architecture)" = amd64 ]
  timage pull -q --root "$root" --platform linux/arm/v7 "127.0.0.1:5111/tkim/multiarch:1"
  run timage inspect --root "$root" 127.0.0.1:5111/tkim/multiarch:1
  [ "$(echo "$output" | jq -r .architecture)" = arm ]
  lower=$(echo "$output" | jq -r '.lower_dirs[0]')
  [ "$(cat "$lower/arch")" = armv7 ]
  run timage pull --root "$root" --platform linux/s390x "127.0.0.1:5111/tkim/multiarch:1"
  [ "$status" -eq 1 ]
  [[ "$output" == *"no manifest for linux/s390x (it offers: linux/arm64, linux/arm/v7, linux/amd64)"* ]]
}

@test "oci: oci-archive: docker-archive: transports equal umoci unpack" {
  root=$IMG_TMP/root-local
  timage pull -q --root "$root" "oci:$IMG_TMP/fx/oci:layers"
  compare "$root" "oci:$IMG_TMP/fx/oci:layers" layers
  skopeo copy -q "oci:$IMG_TMP/fx/oci:special" "oci-archive:$IMG_TMP/special.tar:special"
  timage pull -q --root "$root" "oci-archive:$IMG_TMP/special.tar:special"
  compare "$root" "oci-archive:$IMG_TMP/special.tar:special" special
  skopeo copy -q "oci:$IMG_TMP/fx/oci:layers" "docker-archive:$IMG_TMP/layers-docker.tar:tkim/layers:1"
  timage pull -q --root "$root" "docker-archive:$IMG_TMP/layers-docker.tar"
  compare "$root" "docker-archive:$IMG_TMP/layers-docker.tar" layers
  # Archives are unpacked into the cache's tmp/ and removed afterwards.
  [ -z "$(ls "$root/tmp")" ]
}

@test "image config: Entrypoint, Cmd, Env, WorkingDir, User, StopSignal, ports, volumes, labels" {
  root=$IMG_TMP/root-cfg
  timage pull -q --root "$root" "127.0.0.1:5111/tkim/busybox:1"
  run timage inspect --root "$root" "127.0.0.1:5111/tkim/busybox:1"
  [ "$status" -eq 0 ]
  c=$(echo "$output" | jq -c .config)
  [ "$(echo "$c" | jq -c .Entrypoint)" = '["/bin/sh","-c"]' ]
  [ "$(echo "$c" | jq -c .Cmd)" = '["echo hello from busybox"]' ]
  [ "$(echo "$c" | jq -r '.Env[1]')" = TANK_FIXTURE=busybox ]
  [ "$(echo "$c" | jq -r .WorkingDir)" = /root ]
  [ "$(echo "$c" | jq -r .User)" = 0:0 ]
  [ "$(echo "$c" | jq -r .StopSignal)" = SIGTERM ]
  [ "$(echo "$c" | jq -c .ExposedPorts)" = '["8080/tcp"]' ]
  [ "$(echo "$c" | jq -c .Volumes)" = '["/var/lib/fixture"]' ]
  [ "$(echo "$c" | jq -r '.Labels["org.tank.fixture"]')" = busybox ]
}

@test "the pulled busybox image, overlaid, runs its shell" {
  root=$IMG_TMP/root-run
  timage pull -q --root "$root" "127.0.0.1:5111/tkim/busybox:1"
  m=$IMG_TMP/run-merged
  merge_image "$root" "127.0.0.1:5111/tkim/busybox:1" "$m"
  run chroot "$m" /bin/sh -c 'echo hello from $(id -u) in $(cat /etc/hostname)'
  umount "$m"
  [ "$status" -eq 0 ]
  [ "$output" = "hello from 0 in tank-fixture" ]
}
