#!/usr/bin/env bash
# Tank's main job on a fresh machine: install dependencies, build, build a
# busybox image locally and serve it from a registry on 127.0.0.1, start tankd
# on its embedded store, apply an example pod, show it running and its logs,
# then delete it. Everything lives in one temp dir and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
bash scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build >/dev/null

work=$(mktemp -d /tmp/tank-demo.XXXXXX)
port=${TANK_DEMO_PORT:-5090}
cleanup() {
  [ -n "${tankd_pid:-}" ] && kill "$tankd_pid" 2>/dev/null && wait "$tankd_pid" 2>/dev/null
  bash tests/fixtures/registry.sh stop "$work/registry" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== validate the examples"
build/tank validate examples/*.yaml examples/*.json

echo "== build a busybox image and serve it at 127.0.0.1:$port"
bash tests/fixtures/build-images.sh "$work/images" busybox >/dev/null
mkdir -p "$work/registry"
bash tests/fixtures/registry.sh start "$work/registry" "$port" plain >/dev/null
skopeo copy -q --dest-tls-verify=false "oci:$work/images/oci:busybox" \
  "docker://127.0.0.1:$port/tank/busybox:latest"

export TANK_DATA_DIR=$work/data TANK_RUN_DIR=$work/run TANK_SOCKET=$work/run/tank.sock
export TANK_CONFIG=/dev/null TANK_PODS_DIR=$work/pods.d
echo "== start tankd (embedded SQLite store under $work/data)"
build/tankd >"$work/tankd.log" 2>&1 &
tankd_pid=$!
for _ in $(seq 100); do [ -S "$TANK_SOCKET" ] && break; sleep 0.05; done

echo "== tank apply -f examples/hello.yaml (tankd pulls the image from 127.0.0.1:$port)"
sed "s|127.0.0.1:5000/|127.0.0.1:$port/|" examples/hello.yaml >"$work/hello.yaml"
build/tank apply -f "$work/hello.yaml"
for _ in $(seq 200); do
  [ "$(build/tank inspect hello | jq -r .status.phase)" = running ] && break
  sleep 0.05
done
build/tank ls
sleep 3
echo "== tank logs --tail 5 hello"
build/tank logs --tail 5 hello
echo "== tank delete --wait hello"
build/tank delete --wait hello
build/tank ls
