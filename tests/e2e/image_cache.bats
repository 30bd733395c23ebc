#!/usr/bin/env bats
# Acceptance 2 (second part) and the cache verbs: a corrupted blob fails the
# pull with a digest error and leaves nothing; a pull killed halfway leaves no
# visible image and the next pull completes it; concurrent pulls download each
# blob once; offline mode, ls, inspect, rm, prune.
load image_helpers

setup_file() {
  image_setup_file layers
  python3 "$FIXTURES/mkimages.py" big "$IMG_TMP/fx/oci" big 6 2
  start_registry plain 5131 plain
  push busybox 127.0.0.1:5131/tkim/busybox:1
  push layers 127.0.0.1:5131/tkim/layers:1
  push big 127.0.0.1:5131/tkim/big:1
}

teardown_file() {
  image_teardown_file
}

setup() {
  root=$IMG_TMP/root-$BATS_TEST_NUMBER
}

@test "a corrupted blob fails the pull with a digest error and leaves no cache entry" {
  start_proxy 5132 5131 corrupt
  run timage pull --root "$root" 127.0.0.1:5132/tkim/busybox:1
  stop_proxy 5132
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"digest mismatch: expected sha256:"* ]]
  # Only the (verified) manifest may be cached; no config, no layer, no record.
  [ "$(ls "$root/blobs/sha256" | wc -l)" -le 1 ]
  [ -z "$(ls "$root/layers/sha256")" ]
  [ -z "$(ls "$root/refs")" ]
  [ -z "$(ls "$root/tmp")" ]
  run timage ls --root "$root" -o json
  [ "$(echo "$output" | jq length)" -eq 0 ]
}

@test "a pull killed halfway leaves no visible image and the next pull completes it" {
  start_proxy 5133 5131 slow 1500000
  timage pull --root "$root" 127.0.0.1:5133/tkim/big:1 >"$IMG_TMP/killed.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    grep -q 'kB /' "$IMG_TMP/killed.log" && break
    sleep 0.1
  done
  kill -9 "$pid"
  wait "$pid" || true
  cat "$IMG_TMP/killed.log"
  grep -q 'kB /' "$IMG_TMP/killed.log"
  run timage ls --root "$root" -o json
  [ "$(echo "$output" | jq length)" -eq 0 ]
  run timage inspect --root "$root" 127.0.0.1:5133/tkim/big:1
  [ "$status" -eq 1 ]
  [[ "$output" == *"not in the cache"* ]]
  timage pull -q --root "$root" 127.0.0.1:5133/tkim/big:1
  stop_proxy 5133
  timage inspect --root "$root" 127.0.0.1:5133/tkim/big:1 | jq -e '.lower_dirs | length == 2'
  [ -z "$(ls "$root/tmp")" ]
}

@test "two concurrent pulls of one image both succeed and download each blob once" {
  start_proxy 5134 5131 log "$IMG_TMP/concurrent.log"
  timage pull -q --root "$root" 127.0.0.1:5134/tkim/layers:1 >"$IMG_TMP/c1.log" 2>&1 &
  p1=$!
  timage pull -q --root "$root" 127.0.0.1:5134/tkim/layers:1 >"$IMG_TMP/c2.log" 2>&1 &
  p2=$!
  wait "$p1"
  wait "$p2"
  stop_proxy 5134
  blobs=$(grep -c /blobs/ "$IMG_TMP/concurrent.log")
  unique=$(grep /blobs/ "$IMG_TMP/concurrent.log" | cut -d' ' -f1 | sort -u | wc -l)
  echo "blob GETs: $blobs, distinct: $unique"
  [ "$blobs" -eq "$unique" ]
  [ "$unique" -eq 6 ] # config + 5 layers
}

@test "transient errors are retried with backoff and a dropped download resumes with Range" {
  start_proxy 5135 5131 flaky "$IMG_TMP/flaky.log"
  timage pull -q --root "$root" 127.0.0.1:5135/tkim/big:1
  stop_proxy 5135
  cat "$IMG_TMP/flaky.log"
  # Per layer: a 503, a dropped half, then the rest asked for by Range.
  [ "$(grep -c ' 1 -$' "$IMG_TMP/flaky.log")" -ge 3 ]
  [ "$(grep -c ' 3 bytes=[0-9][0-9]*-$' "$IMG_TMP/flaky.log")" -ge 2 ]
  timage inspect --root "$root" 127.0.0.1:5135/tkim/big:1 | jq -e '.lower_dirs | length == 2'
}

@test "offline mode uses only the cache and says exactly what is missing" {
  run timage pull --root "$root" --offline 127.0.0.1:5131/tkim/busybox:1
  [ "$status" -eq 1 ]
  [[ "$output" == *"offline: image 127.0.0.1:5131/tkim/busybox:1 is not in the cache"* ]]
  timage pull -q --root "$root" 127.0.0.1:5131/tkim/busybox:1
  TANK_OFFLINE=1 timage pull -q --root "$root" 127.0.0.1:5131/tkim/busybox:1
  l=$(timage inspect --root "$root" 127.0.0.1:5131/tkim/busybox:1 | jq -r '.layers[0].diff_id')
  rm -rf "$root/layers/sha256/${l#sha256:}"
  run timage pull --root "$root" --offline 127.0.0.1:5131/tkim/busybox:1
  [ "$status" -eq 1 ]
  [[ "$output" == *"offline: image 127.0.0.1:5131/tkim/busybox:1: layer $l is missing from the cache"* ]]
  # Online, the next pull repairs it.
  timage pull -q --root "$root" 127.0.0.1:5131/tkim/busybox:1
  [ -d "$root/layers/sha256/${l#sha256:}" ]
}

@test "ls, inspect by digest, rm keeps shared layers, prune reports bytes reclaimed" {
  timage pull -q --root "$root" 127.0.0.1:5131/tkim/busybox:1
  d=$(timage pull -q --root "$root" 127.0.0.1:5131/tkim/layers:1)
  run timage ls --root "$root"
  [[ "${lines[0]}" == "REPOSITORY"*"TAG"*"DIGEST"*"SIZE"*"CREATED" ]]
  [[ "$output" == *"127.0.0.1:5131/tkim/layers"*" 1 "* ]]
  run timage ls --root "$root" -o json
  [ "$(echo "$output" | jq -r '.[] | select(.repository == "127.0.0.1:5131/tkim/layers") | .digest')" = "$d" ]
  timage inspect --root "$root" "127.0.0.1:5131/tkim/layers@$d" | jq -e '.layers | length == 5'
  bb=$(timage inspect --root "$root" 127.0.0.1:5131/tkim/busybox:1 | jq -r '.lower_dirs[0]')
  run timage rm --root "$root" 127.0.0.1:5131/tkim/layers:1
  [ "$status" -eq 0 ]
  [[ "$output" == *"reclaimed"* ]]
  [[ "$output" != *"reclaimed 0 B"* ]]
  # The busybox layer is shared with the busybox image: still there.
  [ -d "$bb" ]
  run timage prune --root "$root"
  [[ "$output" == *"reclaimed 0 B (0 bytes)"* ]]
  run timage rm --root "$root" 127.0.0.1:5131/tkim/nothere:1
  [ "$status" -eq 1 ]
  [[ "$output" == *"not in the cache"* ]]
  timage rm --root "$root" 127.0.0.1:5131/tkim/busybox:1
  [ -z "$(ls "$root/layers/sha256")" ]
  [ -z "$(ls "$root/blobs/sha256")" ]
}

@test "rootfs: transport records a directory as an image without config" {
  mkdir -p "$IMG_TMP/rootfs-dir/bin"
  timage pull -q --root "$root" "rootfs:$IMG_TMP/rootfs-dir"
  timage inspect --root "$root" "rootfs:$IMG_TMP/rootfs-dir" | jq -e ".lower_dirs == [\"$IMG_TMP/rootfs-dir\"]"
}

@test "progress: bars redrawn in place on a TTY, plain lines otherwise, nothing with --quiet" {
  run script -qc "$TANK image pull --root $root 127.0.0.1:5131/tkim/layers:1" /dev/null
  [ "$status" -eq 0 ]
  [[ "$output" == *$'\e[2K'*"done ("* ]]
  timage rm --root "$root" 127.0.0.1:5131/tkim/layers:1
  run timage pull --root "$root" 127.0.0.1:5131/tkim/layers:1
  [[ "$output" == *"layer 5/5 "*" done ("* ]]
  [[ "$output" != *$'\e['* ]]
  run timage pull -q --root "$root" 127.0.0.1:5131/tkim/layers:1
  [[ "$output" =~ ^sha256:[0-9a-f]{64}$ ]]
}

@test "usage errors exit 2, --help exits 0" {
  run timage pull
  [ "$status" -eq 2 ]
  run timage bogus
  [ "$status" -eq 2 ]
  for v in pull ls inspect rm prune; do
    timage "$v" --help | grep -q Usage
  done
  run timage pull --root "$root" 'Bad Ref'
  [ "$status" -eq 1 ]
}
