#!/usr/bin/env bats
# Acceptance 2 (first part): every malicious layer is refused or contained, and
# nothing appears outside the layer dir. The layers aim at /tmp/tkim-evil-outside
# (tests/fixtures/mkimages.py evil), which holds one `victim` file.
load image_helpers

OUT=/tmp/tkim-evil-outside

setup_file() {
  image_setup_file evil
}

teardown_file() {
  rm -rf "$OUT"
  image_teardown_file
}

snapshot() {
  { find "$OUT" -newer "$IMG_TMP/stamp" 2>/dev/null || true
    sha256sum /etc/passwd /etc/shadow "$OUT/victim"
    ls -la "$OUT"; } | grep -v ' \.\.$'
}

@test "malicious layers are refused or contained, nothing written outside the layer dir" {
  rm -rf "$OUT"
  mkdir -p "$OUT"
  echo safe >"$OUT/victim"
  touch "$IMG_TMP/stamp"
  sleep 0.01
  before=$(snapshot)
  root=$IMG_TMP/root
  refused=0 contained=0
  for tag in $(jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"]' "$IMG_TMP/fx/evil/index.json"); do
    if out=$(timage pull -q --root "$root" "oci:$IMG_TMP/fx/evil:$tag" 2>&1); then
      contained=$((contained + 1))
      echo "contained: $tag"
    else
      refused=$((refused + 1))
      echo "refused:   $tag: $out"
      # A refused layer leaves neither a layer dir being built nor a record.
      [ -z "$(ls "$root/tmp")" ]
    fi
    [ "$(snapshot)" = "$before" ] || { echo "after $tag:"; snapshot; false; }
  done
  [ "$(cat "$OUT/victim")" = safe ]
  [ "$(ls "$OUT")" = victim ]
  echo "$refused refused, $contained contained"
  [ $((refused + contained)) -ge 19 ]
}

@test "escaping names land inside the layer dir" {
  root=$IMG_TMP/root2
  timage pull -q --root "$root" "oci:$IMG_TMP/fx/evil:dotdot"
  l=$(timage inspect --root "$root" "oci:$IMG_TMP/fx/evil:dotdot" | jq -r '.lower_dirs[0]')
  [ -f "$l$OUT/dotdot" ]
  timage pull -q --root "$root" "oci:$IMG_TMP/fx/evil:symlink-overwrite"
  l=$(timage inspect --root "$root" "oci:$IMG_TMP/fx/evil:symlink-overwrite" | jq -r '.lower_dirs[0]')
  # The regular file replaced the symlink instead of writing through it.
  [ -f "$l/victim" ] && [ ! -L "$l/victim" ] && [ "$(cat "$l/victim")" = pwned ]
  timage pull -q --root "$root" "oci:$IMG_TMP/fx/evil:dir-over-symlink"
  l=$(timage inspect --root "$root" "oci:$IMG_TMP/fx/evil:dir-over-symlink" | jq -r '.lower_dirs[0]')
  [ -d "$l/d" ] && [ ! -L "$l/d" ] && [ -f "$l/d/inside" ]
  [ "$(cat "$OUT/victim" 2>/dev/null || echo safe)" = safe ]
}
