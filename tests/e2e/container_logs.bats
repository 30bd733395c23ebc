#!/usr/bin/env bats
# tank-shim's log writer under load: a container printing 1 GiB keeps at most
# the configured number of files (each at most max_bytes) on disk at any time,
# and what is left is the end of the output, whole.

load helpers
load shim_helpers

setup() { shim_setup; }
teardown() { shim_teardown; }

@test "logs: a container that prints 1 GiB keeps at most log.max_files files on disk" {
  # 1 GiB of 100-byte lines; 1 MiB x 3 files.
  shim_config '.process = {command: ["sh", "-c", "yes 0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789 | head -c 1073741824; echo last-line"]}
               | .log = {max_bytes: 1048576, max_files: 3} | .stop.timeout_ms = 100'
  jq --arg p "$T/logs/ctr.log" '.log.path = $p' "$T/config.json" >"$T/c2" && mv "$T/c2" "$T/config.json"
  "$SHIM" "$T/config.json" >/dev/null
  SHIM_PID=$(jq -r .shim_pid "$T/state/state.json")
  max_files=0 max_bytes=0
  while kill -0 "$SHIM_PID" 2>/dev/null; do
    n=$(find "$T/logs" -type f | wc -l)
    b=$(du -sb "$T/logs" | cut -f1)
    [ "$n" -gt "$max_files" ] && max_files=$n
    [ "$b" -gt "$max_bytes" ] && max_bytes=$b
    sleep 0.2
  done
  echo "at most $max_files files, $max_bytes bytes" >&3
  [ "$(exit_field .exit_code)" = 0 ]
  [ "$max_files" -le 3 ]
  [ "$(find "$T/logs" -type f | wc -l)" -le 3 ]
  # a record is at most ~8 KiB + 64: 3 files of <= 1 MiB each
  [ "$max_bytes" -le $((3 * 1048576 + 4096)) ]
  for f in "$T"/logs/ctr.log*; do [ "$(stat -c %s "$f")" -le 1048576 ]; done
  # the newest file ends with the last line, whole
  tail -n 1 "$T/logs/ctr.log" | grep -Eq '^[0-9T:.-]+Z stdout F [0-9]*last-line$'
  # every record in the files is whole
  ! grep -hvE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z stdout [FP] ' "$T"/logs/ctr.log*
}
