# Helpers for the image e2e tests: fixture images, loopback registries (ports
# 5100-5199, names tkim-*), pulls into a temporary data dir, overlay merges.
load helpers

FIXTURES=$TANK_SRC/tests/fixtures

# Builds the fixture images once per file into $IMG_TMP/fx.
image_setup_file() {
  require_root
  IMG_TMP=$(mktemp -d /tmp/tkim-e2e.XXXXXX)
  export IMG_TMP
  bash "$FIXTURES/build-images.sh" "$IMG_TMP/fx" "$@" >"$IMG_TMP/fixtures.log" 2>&1 ||
    { cat "$IMG_TMP/fixtures.log"; return 1; }
}

image_teardown_file() {
  [ -n "${IMG_TMP:-}" ] || return 0
  for d in "$IMG_TMP"/reg-*; do
    [ -d "$d" ] && bash "$FIXTURES/registry.sh" stop "$d"
  done
  for p in "$IMG_TMP"/*.pid; do
    [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null
  done
  grep -q " $IMG_TMP/" /proc/mounts && grep " $IMG_TMP/" /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r -n1 umount
  rm -rf "$IMG_TMP"
}

# start_registry NAME PORT MODE [ARGS...]: see tests/fixtures/registry.sh
start_registry() {
  local name=$1
  shift
  bash "$FIXTURES/registry.sh" start "$IMG_TMP/reg-$name" "$@"
}

# push TAG DEST [skopeo args...]: copies a fixture image (oci layout) to a registry.
push() {
  local tag=$1 dest=$2
  shift 2
  skopeo copy -q --all --dest-tls-verify=false "$@" "oci:$IMG_TMP/fx/oci:$tag" "docker://$dest"
}

# start_proxy PORT UPSTREAM MODE [ARG]: tests/fixtures/proxy.py, bounded wait.
start_proxy() {
  local port=$1
  setsid python3 "$FIXTURES/proxy.py" "$@" >"$IMG_TMP/proxy-$port.log" 2>&1 </dev/null &
  echo $! >"$IMG_TMP/proxy-$port.pid"
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && return 0
    sleep 0.1
  done
  return 1
}

stop_proxy() {
  local p=$IMG_TMP/proxy-$1.pid
  [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null
  rm -f "$p"
}

timage() {
  "$TANK" image "$@"
}

# merge_image ROOT REF MOUNTPOINT: mounts the image's layers read-only as overlayfs.
merge_image() {
  local root=$1 ref=$2 mnt=$3 lowers
  lowers=$(timage inspect --root "$root" "$ref" | jq -r '.lower_dirs | join(":")')
  mkdir -p "$mnt" "$mnt.empty"
  mount -t overlay overlay -o "ro,lowerdir=$lowers:$mnt.empty" "$mnt"
}
