#!/usr/bin/env bash
# bench/pull: pull + unpack a ~100 MB, 5-layer image from a local registry with
# a cold cache: `tank image pull` beside `skopeo copy` + `umoci unpack` of the
# same image, same run, same machine. Prints medians and the ratio.
#
# Usage: bench/pull/run.sh [RUNS] [BUILD_DIR]   (root; port 5151; temp dir /tmp/tkim-bench-*)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
runs=${1:-5}
build=${2:-$src/build}
tank=$build/tank
port=5151
[ -x "$tank" ] || { echo "build tank first: meson setup build && meson compile -C build" >&2; exit 1; }
tmp=$(mktemp -d /tmp/tkim-bench-XXXXXX)
cleanup() {
  bash "$src/tests/fixtures/registry.sh" stop "$tmp/reg" || true
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "building a 100 MB, 5-layer image..."
python3 "$src/tests/fixtures/mkimages.py" big "$tmp/layout" big 100 5
bash "$src/tests/fixtures/registry.sh" start "$tmp/reg" "$port" plain
skopeo copy -q --dest-tls-verify=false "oci:$tmp/layout:big" "docker://127.0.0.1:$port/tkim/big:1"
du -sh "$tmp/layout/blobs" | sed 's/^/compressed blobs: /'

ref=127.0.0.1:$port/tkim/big:1
hyperfine --runs "$runs" --warmup 1 --export-json "$tmp/result.json" \
  --prepare "rm -rf $tmp/root $tmp/sk $tmp/bundle; sync; echo 1 > /proc/sys/vm/drop_caches" \
  -n tank "$tank image pull -q --root $tmp/root $ref" \
  -n skopeo+umoci "skopeo copy -q --src-tls-verify=false docker://$ref oci:$tmp/sk:big && umoci unpack --image $tmp/sk:big $tmp/bundle"

python3 - "$tmp/result.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
t, p = r["tank"], r["skopeo+umoci"]
print("tank          median %.3f s  mean %.3f s ± %.3f" % (t["median"], t["mean"], t["stddev"]))
print("skopeo+umoci  median %.3f s  mean %.3f s ± %.3f" % (p["median"], p["mean"], p["stddev"]))
print("ratio tank / (skopeo copy + umoci unpack), medians: %.2fx (target <= 0.5x)" % (t["median"] / p["median"]))
PY
