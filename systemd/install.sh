#!/usr/bin/env bash
# Install or upgrade roomctl on a Raspberry Pi (Raspberry Pi OS 64-bit / Debian 12) from a wheel:
#
#   sudo systemd/install.sh --wheel roomctl-0.1.0-py3-none-any.whl [--room ID] [--dry-run]
#
# What it does, each step only when needed (running it again changes nothing that is in place):
#   1. apt: python3-venv, mosquitto (the local broker)
#   2. a system user `roomctl` (no login, no home of its own)
#   3. the virtual environment /opt/roomctl/venv with the wheel (not an editable checkout)
#   4. /etc/roomctl/config.yaml and scenes/ from the wheel (`roomctl init`), if not there yet,
#      with the database in /var/lib/roomctl; an existing config is never touched
#   5. on an upgrade: the service is stopped and the database backed up to
#      /var/lib/roomctl/backups/ before the new version starts (its migrations run at start)
#   6. the unit files, time-sync (systemd-time-wait-sync) and `systemctl enable --now`
#
# --dry-run prints every step and changes nothing.  --root DIR installs the files under DIR
# and only prints what needs the real system (apt, useradd, chown, systemctl): for tests and
# for preparing an image.  Nothing but apt and pip (PyPI or its mirror) reaches the network.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
wheel=""
root=""
room=""
dry=0
python="${PYTHON:-python3}"

usage() {
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

while [ $# -gt 0 ]; do
    case "$1" in
        --wheel) wheel="${2:?--wheel needs a file}"; shift 2 ;;
        --wheel=*) wheel="${1#--wheel=}"; shift ;;
        --root) root="${2:?--root needs a folder}"; shift 2 ;;
        --root=*) root="${1#--root=}"; shift ;;
        --room) room="${2:?--room needs a room id}"; shift 2 ;;
        --room=*) room="${1#--room=}"; shift ;;
        --dry-run) dry=1; shift ;;
        -h|--help) usage 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

if [ -z "$wheel" ]; then
    echo "install.sh: which wheel? --wheel dist/roomctl-*.whl (build one with: pip wheel --no-deps -w dist .)" >&2
    exit 2
fi
if [ ! -f "$wheel" ]; then
    echo "install.sh: no wheel at $wheel" >&2
    exit 2
fi
wheel="$(cd "$(dirname "$wheel")" && pwd)/$(basename "$wheel")"
if [ -n "$room" ] && ! printf '%s' "$room" | grep -Eq '^[a-z0-9][a-z0-9_-]{0,62}$'; then
    echo "install.sh: room id $room: lower-case letters, digits, - and _ only" >&2
    exit 2
fi
if [ -n "$root" ]; then
    mkdir -p "$root"
    root="$(cd "$root" && pwd)"
fi
if [ -z "$root" ] && [ "$dry" = 0 ] && [ "$(id -u)" != 0 ]; then
    echo "install.sh: run it as root (sudo), or with --dry-run or --root DIR" >&2
    exit 2
fi

opt="$root/opt/roomctl"
venv="$opt/venv"
if [ -n "$room" ]; then
    unit="roomctl@$room.service"
    etc="$root/etc/roomctl/$room"
    state="/var/lib/roomctl/$room"
else
    unit="roomctl.service"
    etc="$root/etc/roomctl"
    state="/var/lib/roomctl"
fi
db="$root$state/roomctl.db"
units="$root/etc/systemd/system"

say() { printf '== %s\n' "$*"; }
# A step that changes this machine: printed; run unless --dry-run.
run() {
    printf '   $ %s\n' "$*"
    [ "$dry" = 1 ] || "$@"
}
# A step that needs the real system (packages, users, services): printed only under --root.
system() {
    if [ -n "$root" ]; then
        printf '   (--root: not run) %s\n' "$*"
    else
        run "$@"
    fi
}

say "packages: python3-venv, mosquitto"
missing=()
for pkg in python3-venv mosquitto; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    system apt-get update -q
    system env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
else
    echo "   installed already"
fi

say "user: roomctl"
if id roomctl >/dev/null 2>&1; then
    echo "   exists already"
else
    system useradd --system --user-group --home-dir /var/lib/roomctl --no-create-home \
        --shell /usr/sbin/nologin roomctl
fi

upgrade=0
[ -x "$venv/bin/roomctl" ] && upgrade=1
active=0
if [ -z "$root" ] && command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$unit" 2>/dev/null; then
    active=1
fi

if [ "$upgrade" = 1 ] && [ -f "$db" ]; then
    say "upgrade: stop the service and back up the database before the new version migrates it"
    [ "$active" = 1 ] && run systemctl stop "$unit"
    backup="$root$state/backups/roomctl-$(date +%Y%m%d-%H%M%S).db"
    run install -d -m 0700 "$(dirname "$backup")"
    # sqlite's online backup: consistent even with the WAL beside the file
    run "$venv/bin/python" -c 'import sqlite3, sys
src = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
dst = sqlite3.connect(sys.argv[2])
src.backup(dst)
dst.close()
src.close()' "$db" "$backup"
    run chmod 0600 "$backup"
    system chown -R roomctl:roomctl "$root$state/backups"
fi

say "virtual environment: $venv"
if [ -x "$venv/bin/python" ]; then
    echo "   exists already"
else
    run install -d -m 0755 "$opt"
    run "$python" -m venv "$venv"
fi
run "$venv/bin/pip" install -q --disable-pip-version-check --upgrade "$wheel"

say "config: $etc"
if [ -f "$etc/config.yaml" ]; then
    echo "   $etc/config.yaml exists: kept as it is (new scenes are added, edited ones kept)"
fi
run install -d -m 0750 "$etc"
run "$venv/bin/roomctl" init "$etc" --storage "$state/roomctl.db"
system chown -R root:roomctl "$etc"
run chmod -R g+rX,o-rwx "$etc"
run install -d -m 0700 "$root$state"
system chown roomctl:roomctl "$root$state"

say "docs: $opt/docs"
run install -d -m 0755 "$opt/docs"
[ -f "$here/../docs/install.md" ] && run install -m 0644 "$here/../docs/install.md" "$opt/docs/install.md"

say "units: $units"
run install -d -m 0755 "$units"
run install -m 0644 "$here/roomctl.service" "$units/roomctl.service"
run install -m 0644 "$here/roomctl@.service" "$units/roomctl@.service"
system systemctl daemon-reload
# time-sync.target waits for NTP only with this enabled (a Pi has no clock that keeps time)
system systemctl enable systemd-time-wait-sync.service
system systemctl enable mosquitto.service
if [ "$upgrade" = 1 ] && { [ "$active" = 1 ] || [ -n "$root" ]; }; then
    system systemctl enable "$unit"
    system systemctl restart "$unit"
else
    system systemctl enable --now "$unit"
fi

say "check"
run "$venv/bin/roomctl" check --config "$etc/config.yaml"
if [ "$dry" = 1 ]; then
    echo "dry run: nothing was changed"
else
    echo "done: $unit ($venv, $etc/config.yaml, $state)"
fi
