#!/usr/bin/env bash
# Swagger UI in a real browser (make test-browser): builds the binaries (debug), seeds a fresh
# SQLite database, starts cohai-server on a free port with an admin key, and runs
# tools/browser/docs.test.mjs (playwright-core driving Debian's /usr/bin/chromium; no browser is
# downloaded). It opens /docs, runs "Try it out" on a public and, after "Authorize", on an admin
# call, and fails on any console error, failed request or Content-Security-Policy violation.
# The screenshot goes to target/browser/docs.png (under CARGO_TARGET_DIR when set).
#
#   scripts/test-browser.sh                  # as in CI
#   CHROMIUM=/path/to/chrome scripts/test-browser.sh
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

TARGET_DIR="${CARGO_TARGET_DIR:-target}"
BIN="$TARGET_DIR/debug"
WORK="$TARGET_DIR/browser"
KEY="browser-test-admin-key-$$"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

if [ ! -x "$CHROMIUM" ]; then
    echo "test-browser: $CHROMIUM not found; install Debian's chromium: apt-get install -y chromium" >&2
    exit 1
fi
# The lock file pins playwright-core, which downloads no browser (only the `playwright` package
# would); reinstalled only when the installed version is not the locked one.
if ! node -e '
    const lock = require("./tools/browser/package-lock.json").packages["node_modules/playwright-core"];
    const got = require("./tools/browser/node_modules/playwright-core/package.json");
    process.exit(lock.version === got.version ? 0 : 1)' 2>/dev/null; then
    npm ci --prefix tools/browser --no-audit --no-fund --loglevel=error
fi

cargo build -p cohai-server -p cohai-bootstrap

rm -rf "$WORK" && mkdir -p "$WORK"
export DATABASE_URL="sqlite://$WORK/browser.db"
"$BIN/cohai-bootstrap" seed >/dev/null

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
COHAI_BIND="127.0.0.1:$PORT" COHAI_ADMIN_API_KEY="$KEY" RUST_LOG=warn \
    "$BIN/cohai-server" 2>"$WORK/server.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done
if ! curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null; then
    echo "test-browser: the server did not start; its log:" >&2; cat "$WORK/server.log" >&2; exit 1
fi

rc=0
COHAI_BASE_URL="http://127.0.0.1:$PORT" COHAI_ADMIN_KEY="$KEY" COHAI_SCREENSHOT="$WORK/docs.png" \
    timeout 150 node --test --test-reporter=spec tools/browser/docs.test.mjs || rc=$?

elapsed=$(( $(date +%s) - started ))
if [ "$rc" -ne 0 ]; then
    echo "test-browser: FAILED (exit $rc) in ${elapsed}s; screenshot $WORK/docs.png, server log $WORK/server.log"
    exit 1
fi
echo "test-browser: Swagger UI OK under the CSP (public + admin Try it out, no console errors) in ${elapsed}s; screenshot $WORK/docs.png"
