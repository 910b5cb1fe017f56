#!/usr/bin/env bash
# Check the unit files as systemd would read them, without systemd running (CI, containers):
# `systemd-analyze verify` may print only missing-binary notes (roomctl is installed under
# /opt/roomctl later), and `systemd-analyze security --offline=true` must rate each unit
# MAX_EXPOSURE (2.0) or lower.  Exit 0 when both hold; 1 with the offending lines otherwise.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
max="${MAX_EXPOSURE:-2.0}"
command -v systemd-analyze >/dev/null 2>&1 || { echo "systemd-analyze not found: skipped"; exit 0; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/roomctl.service" "$work/roomctl.service"
cp "$here/roomctl@.service" "$work/roomctl@room-1.service"   # a template is checked as an instance
status=0
for unit in roomctl.service roomctl@room-1.service; do
    notes="$(cd "$work" && systemd-analyze verify "./$unit" 2>&1 || true)"
    other="$(printf '%s\n' "$notes" | grep -v -e '^$' -e 'is not executable: No such file or directory' || true)"
    if [ -n "$other" ]; then
        echo "$unit: systemd-analyze verify:"; printf '%s\n' "$other"; status=1
    fi
    line="$(cd "$work" && systemd-analyze security --offline=true "./$unit" 2>&1 | grep 'Overall exposure level' || true)"
    score="$(printf '%s\n' "$line" | sed -n 's/.*: \([0-9.]*\) .*/\1/p')"
    if [ -z "$score" ]; then
        echo "$unit: no exposure level from systemd-analyze security"; status=1
    elif awk -v s="$score" -v m="$max" 'BEGIN { exit !(s > m) }'; then
        echo "$unit: exposure $score is above $max"; status=1
    else
        echo "$unit: verify clean, exposure $score (at most $max)"
    fi
done
exit $status
