#!/usr/bin/env bash
# The browser tests (make test-browser): builds the binaries (debug), seeds a fresh SQLite
# database, starts cohai-server on a free port with three keys — the admin key
# (COHAI_ADMIN_API_KEY, named `admin`) and, from a config file (COHAI_CONFIG, `[[admin_keys]]`),
# a manager limited to one studio and a manager of every studio — with the lead form's rate
# limit off, and runs against it, in headless Debian chromium driven by playwright-core (no
# browser is downloaded):
#   - tools/browser/docs.test.mjs: Swagger UI at /docs ("Try it out" on a public and, after
#     "Authorize", on an admin call);
#   - tools/browser/console.test.mjs: the managers' console at /admin/ (sign-in, inbox, lead
#     card, roles, conflicts, timetable, stats, CSRF, sign-out).
# Each fails on any console error, failed request or Content-Security-Policy violation.
# Screenshots go to target/browser/ (under CARGO_TARGET_DIR when set): docs.png and console/*.png.
#
#   scripts/test-browser.sh                  # as in CI
#   CHROMIUM=/path/to/chrome scripts/test-browser.sh
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

TARGET_DIR="${CARGO_TARGET_DIR:-target}"
BIN="$TARGET_DIR/debug"
WORK="$TARGET_DIR/browser"
ADMIN_KEY="browser-test-admin-key-$$"
MANAGER_KEY="browser-test-manager-key-$$"
MANAGER_NAME="olga"
MANAGER_LOCATION=2
SECOND_MANAGER_KEY="browser-test-second-manager-key-$$"
SECOND_MANAGER_NAME="ivan"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

if [ ! -x "$CHROMIUM" ]; then
    echo "test-browser: $CHROMIUM not found; install Debian's chromium: apt-get install -y chromium" >&2
    exit 1
fi
# The lock file pins playwright-core (which downloads no browser; only the `playwright` package
# would) and axe-core; they are reinstalled only when an installed version is not the locked one.
if ! node -e '
    const lock = require("./tools/browser/package-lock.json").packages;
    for (const [path, { version }] of Object.entries(lock)) {
        if (!path) continue;
        const got = require(`./tools/browser/${path}/package.json`);
        if (got.version !== version) process.exit(1);
    }' 2>/dev/null; then
    npm ci --prefix tools/browser --no-audit --no-fund --loglevel=error
fi

cargo build -p cohai-server -p cohai-bootstrap

rm -rf "$WORK" && mkdir -p "$WORK/console"
export DATABASE_URL="sqlite://$WORK/browser.db"
"$BIN/cohai-bootstrap" seed >/dev/null

# The managers' keys, by digest (README: "admin_keys", "Roles and keys").
digest() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
cat >"$WORK/cohai.toml" <<TOML
[[admin_keys]]
name = "$MANAGER_NAME"
sha256 = "$(digest "$MANAGER_KEY")"
role = "manager"
locations = [$MANAGER_LOCATION]

[[admin_keys]]
name = "$SECOND_MANAGER_NAME"
sha256 = "$(digest "$SECOND_MANAGER_KEY")"
role = "manager"
TOML

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
COHAI_CONFIG="$WORK/cohai.toml" COHAI_BIND="127.0.0.1:$PORT" COHAI_ADMIN_API_KEY="$ADMIN_KEY" \
    COHAI_LEAD_RATE_PER_MINUTE=0 RUST_LOG=warn \
    "$BIN/cohai-server" 2>"$WORK/server.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done
if ! curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null; then
    echo "test-browser: the server did not start; its log:" >&2; cat "$WORK/server.log" >&2; exit 1
fi

# Both files in one run (one after the other: two chromiums at once are slow on 2 cores); the
# spec reporter to the terminal, TAP to a file for the counts of the summary line.
rc=0
COHAI_BASE_URL="http://127.0.0.1:$PORT" COHAI_ADMIN_KEY="$ADMIN_KEY" \
    COHAI_MANAGER_KEY="$MANAGER_KEY" COHAI_MANAGER_NAME="$MANAGER_NAME" \
    COHAI_MANAGER_LOCATION="$MANAGER_LOCATION" \
    COHAI_SECOND_MANAGER_KEY="$SECOND_MANAGER_KEY" COHAI_SECOND_MANAGER_NAME="$SECOND_MANAGER_NAME" \
    COHAI_SCREENSHOT="$WORK/docs.png" COHAI_SCREENSHOT_DIR="$WORK/console" \
    timeout 420 node --test --test-concurrency=1 \
        --test-reporter=spec --test-reporter-destination=stdout \
        --test-reporter=tap --test-reporter-destination="$WORK/results.tap" \
        tools/browser/docs.test.mjs tools/browser/console.test.mjs || rc=$?

count() { local n; n=$(sed -nE "s/^# $1 ([0-9]+)$/\1/p" "$WORK/results.tap" 2>/dev/null | tail -1); echo "${n:-0}"; }
passed=$(count pass) failed=$(count fail)
elapsed=$(( $(date +%s) - started ))
shots="$WORK/docs.png and $(find "$WORK/console" -name '*.png' | wc -l) in $WORK/console/"
if [ "$rc" -ne 0 ]; then
    echo "test-browser: FAILED (exit $rc): $passed passed, $failed failed in ${elapsed}s; screenshots $shots, server log $WORK/server.log"
    exit 1
fi
echo "test-browser: $passed passed, 0 failed in ${elapsed}s — Swagger UI (public + admin Try it out) and the managers' console (sign-in, inbox, card, roles, conflict, timetable, stats, CSRF, sign-out), no console error or CSP violation; screenshots $shots"
