#!/usr/bin/env bash
# Runs the Postman collection (docs/cohai.postman_collection.json, `make postman`) with newman
# against a server on a fresh seeded SQLite database, as a website developer would run it
# against `make run`: every request's status and body assertions must pass.
#
# Builds the debug binaries, seeds a temporary database, starts cohai-server on a free port
# with an admin key and the lead rate limit off, runs the collection's folders in order with
# `base_url`/`admin_key` overridden, stops the server and prints one summary line.
#
#   scripts/newman.sh                                  # the folders of NEWMAN_FOLDERS
#   NEWMAN_FOLDERS="catalog leads" scripts/newman.sh   # only these folders
#   NEWMAN_FOLDERS=all scripts/newman.sh               # the whole collection
#   NEWMAN_SKIP_BUILD=1 scripts/newman.sh              # use the debug binaries as they are
#
# newman is pinned in tools/newman (installed with `npm ci --prefix tools/newman` if missing;
# the only step that needs the network).
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET_DIR="${CARGO_TARGET_DIR:-target}"
BIN="$TARGET_DIR/debug"
COLLECTION=docs/cohai.postman_collection.json
ENVIRONMENT=docs/cohai.postman_environment.json
NEWMAN=tools/newman/node_modules/.bin/newman
KEY="newman-admin-key"
# Every folder by default: each write request creates its own record, changes and deletes it,
# so the run leaves the demo data as it was.
FOLDERS="${NEWMAN_FOLDERS:-all}"

if [ ! -x "$NEWMAN" ]; then
    echo "installing newman (npm ci --prefix tools/newman)…"
    npm ci --prefix tools/newman --no-audit --no-fund --loglevel=error >/dev/null
fi

[ -n "${NEWMAN_SKIP_BUILD:-}" ] || cargo build -p cohai-server -p cohai-bootstrap

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cohai-newman.XXXXXX")
SERVER=
cleanup() {
    if [ -n "$SERVER" ]; then
        kill "$SERVER" 2>/dev/null || true
        wait "$SERVER" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

export DATABASE_URL="sqlite://$WORK/newman.db"
"$BIN/cohai-bootstrap" seed >/dev/null

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
COHAI_BIND="127.0.0.1:$PORT" COHAI_ADMIN_API_KEY="$KEY" COHAI_LEAD_RATE_PER_MINUTE=0 RUST_LOG=warn \
    "$BIN/cohai-server" 2>"$WORK/server.log" &
SERVER=$!
for _ in $(seq 1 100); do curl -fsS "$BASE/health" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "$BASE/ready" >/dev/null

ARGS=()
if [ "$FOLDERS" != all ]; then
    for folder in $FOLDERS; do ARGS+=(--folder "$folder"); done
fi

status=0
"$NEWMAN" run "$COLLECTION" -e "$ENVIRONMENT" \
    --env-var "base_url=$BASE" --env-var "admin_key=$KEY" \
    "${ARGS[@]}" \
    --bail folder --color off --disable-unicode \
    --reporters cli,json --reporter-json-export "$WORK/report.json" || status=$?

if grep -q panicked "$WORK/server.log"; then
    echo "the server panicked:"; grep -A3 panicked "$WORK/server.log"; status=1
fi
summary=$(python3 - "$WORK/report.json" <<'PY' 2>/dev/null || echo "no newman report"
import json, sys
run = json.load(open(sys.argv[1]))["run"]
s = run["stats"]
print(f'{s["requests"]["total"]} requests ({s["requests"]["failed"]} failed), '
      f'{s["assertions"]["total"]} assertions ({s["assertions"]["failed"]} failed)'
      f'{", " + str(len(run["failures"])) + " failures" if run["failures"] else ""}')
PY
)
if [ "$status" -eq 0 ]; then
    echo "newman: passed: $summary, folders: $FOLDERS"
else
    echo "the server's log, last lines:"; tail -n 20 "$WORK/server.log" || true
    echo "newman: FAILED: $summary, folders: $FOLDERS"
fi
exit "$status"
