#!/usr/bin/env bash
# Runs Tank's whole test suite on this machine: installs dependencies, checks
# formatting, builds with ASan+UBSan and -Werror, runs the cmocka unit tests,
# the bats end-to-end tests (root ones need root) and a fuzz run of every
# libFuzzer target. Ends with one line "N passed, N failed".
#
# Environment: FUZZ_SECONDS (default 60) per fuzz target; TANK_TEST_ONLY=unit|e2e|fuzz|format
# to run one part; BATS_FILTER to pass a --filter to bats.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD
out=$top/.ci-out
mkdir -p "$out"
fuzz_seconds=${FUZZ_SECONDS:-60}
only=${TANK_TEST_ONLY:-}
passed=0
failed=0
failures=()

part() { [ -z "$only" ] || [ "$only" = "$1" ]; }
count() { # name, pass count, fail count
  passed=$((passed + $2))
  failed=$((failed + $3))
  [ "$3" -eq 0 ] || failures+=("$1 ($3)")
  echo "== $1: $2 passed, $3 failed"
}

bash scripts/install-deps.sh || { echo "install-deps failed"; echo "0 passed, 1 failed"; exit 1; }

if part format; then
  unformatted=$(git ls-files '*.c' '*.h' | xargs -r clang-format --dry-run --Werror 2>&1 | grep -c 'error:' || true)
  if [ "$unformatted" -eq 0 ]; then count format 1 0; else
    git ls-files '*.c' '*.h' | xargs -r clang-format --dry-run --Werror 2>&1 | grep 'error:' | cut -d: -f1 | sort -u | sed 's/^/unformatted: /'
    count format 0 1
  fi
fi

build=$top/build-asan
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" --werror -Db_sanitize=address,undefined -Db_lundef=false \
    -Dbuildtype=debug >"$out/setup.log" 2>&1 || { cat "$out/setup.log"; echo "0 passed, 1 failed"; exit 1; }
fi
if ! meson compile -C "$build" >"$out/build.log" 2>&1; then
  tail -n 60 "$out/build.log"
  echo "build failed"
  echo "$passed passed, $((failed + 1)) failed"
  exit 1
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

if part unit; then
  # Each cmocka case is reported over TAP, so every case counts once.
  meson test -C "$build" --print-errorlogs --num-processes 2 >"$out/unit.log" 2>&1
  tail -n 15 "$out/unit.log"
  # Count TAP subtests (each cmocka case); a test without TAP output counts once.
  log=$build/meson-logs/testlog.json
  p=$(jq -s '[.[] | ((.stdout // "") | [scan("(?m)^ok ")] | length) as $n
              | if $n > 0 then $n elif .result == "OK" then 1 else 0 end] | add // 0' "$log")
  f=$(jq -s '[.[] | ((.stdout // "") | [scan("(?m)^not ok ")] | length) as $n
              | if $n > 0 then $n elif (.result != "OK" and .result != "SKIP") then 1 else 0 end] | add // 0' "$log")
  count unit "$p" "$f"
fi

if part e2e; then
  export TANK_BUILD=$build TANK_SRC=$top
  bats_args=(--tap)
  [ -n "${BATS_FILTER:-}" ] && bats_args+=(--filter "$BATS_FILTER")
  bats "${bats_args[@]}" tests/e2e >"$out/e2e.tap" 2>&1
  grep -E '^not ok' -A 20 "$out/e2e.tap" | head -n 200
  p=$(grep -cE '^ok ' "$out/e2e.tap" || true)
  f=$(grep -cE '^not ok ' "$out/e2e.tap" || true)
  grep -qE '^1\.\.[0-9]+' "$out/e2e.tap" || { echo "bats did not run:"; tail -n 20 "$out/e2e.tap"; f=$((f + 1)); }
  count e2e "$p" "$f"
fi

if part fuzz; then
  fbuild=$top/build-fuzz
  if [ ! -f "$fbuild/build.ninja" ]; then
    CC=clang meson setup "$fbuild" -Dfuzz=true -Dtests=false -Db_sanitize=address,undefined \
      -Db_lundef=false -Dbuildtype=debugoptimized >"$out/fuzz-setup.log" 2>&1 ||
      { cat "$out/fuzz-setup.log"; count fuzz-build 0 1; }
  fi
  if meson compile -C "$fbuild" >"$out/fuzz-build.log" 2>&1; then
    for target in "$fbuild"/fuzz_* "$fbuild"/tests/fuzz/fuzz_*; do
      [ -f "$target" ] && [ -x "$target" ] || continue
      name=$(basename "$target")
      corpus=$top/tests/fuzz/corpus/${name#fuzz_}
      work=$(mktemp -d)
      # Seeds first (regressions: every crash ever found is kept as a seed), then explore.
      if "$target" -runs=0 "$corpus" >"$out/$name.regress.log" 2>&1 &&
        "$target" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
          -artifact_prefix="$out/$name-" "$work" "$corpus" >"$out/$name.log" 2>&1; then
        count "$name" 1 0
      else
        tail -n 40 "$out/$name.log" "$out/$name.regress.log"
        count "$name" 0 1
      fi
      rm -rf "$work"
    done
  else
    tail -n 40 "$out/fuzz-build.log"
    count fuzz-build 0 1
  fi
fi

[ ${#failures[@]} -eq 0 ] || echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
