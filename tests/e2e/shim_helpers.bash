# Helpers for the tank-shim end-to-end tests: a busybox image built from
# Debian's busybox-static (two layer dirs + an OCI image config), a container
# config per test, and a teardown that proves nothing was left behind.
# Every name the tests create starts with tkrt (cgroups under tank-tkrt-test/).

SHIM=$TANK_BUILD/tank-shim
CG_ROOT=/sys/fs/cgroup

# Builds (once per bats file) the layers in $FIXTURE: base (busybox + applets),
# etc (passwd, group, a file overriding the base layer).
shim_fixture() {
  FIXTURE=${BATS_FILE_TMPDIR:-/tmp}/tkrt-image
  export FIXTURE
  [ -e "$FIXTURE/.done" ] && return 0
  local base=$FIXTURE/layers/base etc=$FIXTURE/layers/etc
  mkdir -p "$base/bin" "$base/etc" "$base/tmp" "$etc/etc" "$etc/home/app"
  chmod 1777 "$base/tmp"
  cp /bin/busybox "$base/bin/busybox"
  local a
  for a in $(/bin/busybox --list); do
    [ "$a" = busybox ] || ln -s busybox "$base/bin/$a"
  done
  ln -s bin "$base/sbin"
  echo base >"$base/etc/layer"
  echo etc >"$etc/etc/layer"
  cat >"$etc/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app user:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
  cat >"$etc/etc/group" <<'G'
root:x:0:
app:x:1000:
extra:x:2000:app,other
audio:x:29:app
nogroup:x:65534:
G
  chown 1000:1000 "$etc/home/app"
  cat >"$FIXTURE/image.json" <<'J'
{"architecture":"amd64","os":"linux",
 "config":{"Entrypoint":["/bin/echo","ep"],"Cmd":["cmd1","cmd2"],
   "Env":["PATH=/usr/local/bin:/usr/bin:/bin","IMG=1","OVER=image"],
   "WorkingDir":"/srv/work"},
 "rootfs":{"type":"layers","diff_ids":[]}}
J
  touch "$FIXTURE/.done"
}

# Per test: $T (temp dir), $CG (cgroup path), pod /etc files, a default config.
shim_setup() {
  require_root
  shim_fixture
  T=$(mktemp -d /tmp/tkrt-e2e.XXXXXX)
  CG=tank-tkrt-test/$(basename "$T")
  mkdir -p "$T/pod"
  printf '127.0.0.1 localhost\n10.9.9.9 tkrt-pod\n' >"$T/pod/hosts"
  echo tkrt-pod >"$T/pod/hostname"
  echo 'nameserver 10.9.9.1' >"$T/pod/resolv.conf"
  EXTRA_LAYERS=()
}

# shim_config [JQ_FILTER]: writes $T/config.json from the defaults, then the filter.
shim_config() {
  local layers
  layers=$(printf '%s\n' "$FIXTURE/layers/base" "$FIXTURE/layers/etc" "${EXTRA_LAYERS[@]}" | jq -R . | jq -s .)
  jq -n --arg t "$T" --arg cg "$CG" --arg img "$FIXTURE/image.json" --argjson layers "$layers" '{
    id: "tkrt", state_dir: ($t + "/state"),
    rootfs: {layers: $layers, upper: ($t + "/upper"), work: ($t + "/work"),
             mountpoint: ($t + "/rootfs")},
    image_config: $img, hostname: "tkrt-pod",
    namespaces: {create: ["mount", "pid", "cgroup", "net", "uts", "ipc"]},
    cgroup: {path: $cg},
    etc: {hosts: ($t + "/pod/hosts"), hostname: ($t + "/pod/hostname"),
          resolv_conf: ($t + "/pod/resolv.conf")},
    stop: {timeout_ms: 3000}
  }' | jq "${1:-.}" >"$T/config.json"
}

# The container's output, without the CRI prefix.
ctr_log() {
  sed -E 's/^[^ ]+ (stdout|stderr) [FP] //' "$T/state/container.log"
}

exit_field() { jq -r "$1" "$T/state/exit.json"; }

# Waits (bounded) for a file to exist.
wait_file() {
  local i
  for i in $(seq 1 "${2:-100}"); do
    [ -e "$1" ] && return 0
    sleep 0.05
  done
  return 1
}

# Fails when anything of the test is left: shim or container process, cgroup
# dirs, mounts, upper/work dirs. Then removes the test's own dirs.
shim_teardown() {
  [ -n "${T:-}" ] || return 0
  local leftover=0 pid
  if [ -f "$T/state/state.json" ]; then
    for pid in $(jq -r '.shim_pid, .pid' "$T/state/state.json"); do
      if [ "$pid" -gt 0 ] 2>/dev/null && kill -0 "$pid" 2>/dev/null &&
        [ "$(jq -r .status "$T/state/state.json")" != exited ]; then
        # give a finishing shim a moment, then count it as a leftover
        for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        if kill -0 "$pid" 2>/dev/null; then
          echo "leftover process $pid" >&2; kill -9 "$pid"; leftover=1
        fi
      fi
    done
  fi
  local c
  for c in "$CG_ROOT"/*/; do
    if [ -d "$c$CG" ]; then
      echo "leftover cgroup $c$CG" >&2; leftover=1
      rmdir "$c$CG" 2>/dev/null
    fi
    [ -d "${c}tank-tkrt-test" ] && rmdir "${c}tank-tkrt-test" 2>/dev/null
  done
  if grep -q "$T" /proc/self/mountinfo; then
    echo "leftover mount under $T" >&2; leftover=1
    grep "$T" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r umount -l
  fi
  for d in upper work rootfs; do
    if [ -e "$T/$d" ] && [ "${KEEP_UPPER:-0}" != 1 ]; then
      echo "leftover $T/$d" >&2; leftover=1
    fi
  done
  rm -rf "$T"
  [ "$leftover" -eq 0 ]
}
