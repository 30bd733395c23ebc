#!/usr/bin/env bats
# Acceptance 3: anonymous, basic and token flows against the real registry;
# wrong credentials give a clear 401 naming the registry; credentials never
# follow a redirect to another host.
load image_helpers

setup_file() {
  image_setup_file busybox
  start_registry plain 5121 plain
  start_registry basic 5122 htpasswd tkim tkim-secret
  start_registry token 5123 token 5124 tkim tkim-secret
  push busybox 127.0.0.1:5121/tkim/busybox:1
  push busybox 127.0.0.1:5122/tkim/busybox:1 --dest-creds tkim:tkim-secret
  push busybox 127.0.0.1:5123/public/busybox:1 --dest-creds tkim:tkim-secret
  push busybox 127.0.0.1:5123/private/busybox:1 --dest-creds tkim:tkim-secret
  good=$(printf tkim:tkim-secret | base64)
  bad=$(printf tkim:wrong | base64)
  for h in 127.0.0.1:5122 127.0.0.1:5123 127.0.0.1:5125; do
    echo "\"$h\":{\"auth\":\"$good\"}"
  done | paste -sd, | sed 's/^/{"auths":{/; s/$/}}/' >"$IMG_TMP/auth.json"
  echo "{\"auths\":{\"127.0.0.1:5122\":{\"auth\":\"$bad\"},\"http://127.0.0.1:5123/v2/\":{\"auth\":\"$bad\"}}}" >"$IMG_TMP/bad.json"
}

teardown_file() {
  image_teardown_file
}

setup() {
  root=$IMG_TMP/root-$BATS_TEST_NUMBER
  unset REGISTRY_AUTH_FILE
}

@test "anonymous pull from a plain registry" {
  run timage pull --root "$root" 127.0.0.1:5121/tkim/busybox:1
  [ "$status" -eq 0 ]
  [[ "$output" == *"pulled 127.0.0.1:5121/tkim/busybox:1 sha256:"* ]]
}

@test "basic auth: credentials from --authfile and from REGISTRY_AUTH_FILE" {
  timage pull -q --root "$root" --authfile "$IMG_TMP/auth.json" 127.0.0.1:5122/tkim/busybox:1
  timage rm --root "$root" 127.0.0.1:5122/tkim/busybox:1
  REGISTRY_AUTH_FILE=$IMG_TMP/auth.json timage pull -q --root "$root" 127.0.0.1:5122/tkim/busybox:1
}

@test "basic auth: no or wrong credentials give a clear 401 naming the registry" {
  run timage pull --root "$root" --authfile /nonexistent/tkim.json 127.0.0.1:5122/tkim/busybox:1
  [ "$status" -eq 1 ]
  [[ "$output" == *"/nonexistent/tkim.json"* ]]
  REGISTRY_AUTH_FILE=/nonexistent/tkim.json run timage pull --root "$root" 127.0.0.1:5122/tkim/busybox:1
  [ "$status" -eq 1 ]
  [[ "$output" == *"registry 127.0.0.1:5122: credentials required (401)"* ]]
  run timage pull --root "$root" --authfile "$IMG_TMP/bad.json" 127.0.0.1:5122/tkim/busybox:1
  [ "$status" -eq 1 ]
  [[ "$output" == *"registry 127.0.0.1:5122: authentication failed (401)"*"check credentials in $IMG_TMP/bad.json"* ]]
}

@test "token auth: anonymous token for a public repo, credentials for a private one" {
  REGISTRY_AUTH_FILE=/nonexistent timage pull -q --root "$root" 127.0.0.1:5123/public/busybox:1
  REGISTRY_AUTH_FILE=/nonexistent run timage pull --root "$root" 127.0.0.1:5123/private/busybox:1
  [ "$status" -eq 1 ]
  [[ "$output" == *"registry 127.0.0.1:5123: credentials required (401)"* ]]
  timage pull -q --root "$root" --authfile "$IMG_TMP/auth.json" 127.0.0.1:5123/private/busybox:1
}

@test "token auth: wrong credentials are refused by the token server, named in the error" {
  run timage pull --root "$root" --authfile "$IMG_TMP/bad.json" 127.0.0.1:5123/private/busybox:1
  [ "$status" -eq 1 ]
  [[ "$output" == *"registry 127.0.0.1:5123: authentication failed (401 from token server http://127.0.0.1:5124/token)"* ]]
}

@test "a redirect to another host does not carry the credentials" {
  # 127.0.0.1:5125 relays to the basic-auth registry but sends blobs to
  # localhost:5126, which logs the Authorization header it sees and relays to
  # the plain registry holding the same blobs.
  start_proxy 5126 5121 log "$IMG_TMP/redirect.log"
  start_proxy 5125 5122 redirect localhost:5126
  timage pull -q --root "$root" --authfile "$IMG_TMP/auth.json" 127.0.0.1:5125/tkim/busybox:1
  stop_proxy 5125
  stop_proxy 5126
  cat "$IMG_TMP/redirect.log"
  grep -q /blobs/ "$IMG_TMP/redirect.log"
  ! grep -v ' -$' "$IMG_TMP/redirect.log"
}
