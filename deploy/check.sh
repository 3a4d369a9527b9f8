#!/usr/bin/env bash
# Offline checks of deploy/ (`make deploy-check`, CI): `systemd-analyze verify` on the units,
# failing on any warning too (it exits 0 on unknown keys and bad values), and `caddy validate`
# on the Caddyfiles (deploy/ and docker/). verify looks for every Exec*= program; it runs against a scratch root holding
# the units, systemd's own units and empty stand-ins for those programs, so that the binaries
# need not be installed here.
set -euo pipefail
cd "$(dirname "$0")"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/etc/systemd/system" "$root/usr/lib/systemd"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
units=(cohai.service cohai-backup.service cohai-backup.timer)
for unit in "${units[@]}"; do
    cp "$unit" "$root/etc/systemd/system/"
    # Exec lines: `ExecStart=[-@:+!]/path args`; stand in for /path.
    sed -nE 's|^Exec[A-Za-z]*=[-@:+!]*(/[^ ]+).*|\1|p' "$unit" | while read -r exe; do
        mkdir -p "$root$(dirname "$exe")"
        printf '#!/bin/sh\n' > "$root$exe"
        chmod +x "$root$exe"
    done
done

out=$(systemd-analyze verify --root="$root" "${units[@]}" 2>&1) || { echo "$out"; exit 1; }
if [ -n "$out" ]; then
    echo "$out"
    echo "systemd-analyze verify: warnings (above) count as failures"
    exit 1
fi
echo "systemd-analyze verify: ${units[*]} OK"
systemd-analyze security --offline=yes cohai.service 2>&1 | tail -n 1

# deploy/Caddyfile (TLS in front of one host) and docker/Caddyfile (the compose file's load
# balancer in front of two instances).
for caddyfile in Caddyfile ../docker/Caddyfile; do
    caddy validate --config "$caddyfile" --adapter caddyfile 2>&1 | grep -v '"level":"info"'
    caddy fmt "$caddyfile" | diff -u "$caddyfile" - || { echo "$caddyfile: not formatted (caddy fmt --overwrite)"; exit 1; }
done
