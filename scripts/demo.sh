#!/usr/bin/env bash
# Tank's main job on a fresh machine: install dependencies, build, and run the
# example pods through Tank. Until the daemon lands this validates every example
# and prints its canonical form; the daemon issue turns it into
# "start tankd, pull a locally built image, apply a pod, show it running".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build >/dev/null
echo "== tank validate examples/"
build/tank validate examples/*.yaml examples/*.json
echo
echo "== canonical form of examples/web.yaml (what the store will hold)"
build/tank validate -o yaml examples/web.yaml
