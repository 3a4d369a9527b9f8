#!/usr/bin/env bash
# Property-based fuzzing of the whole HTTP surface from the project's own OpenAPI document
# (schemathesis). Starts a server on a fresh seeded SQLite database and checks that no request
# gets a 5xx, every status is documented, and every response conforms to its schema.
#
#   scripts/fuzz.sh            # bounded run (FUZZ_EXAMPLES=25 per operation), as in CI
#   FUZZ_EXAMPLES=500 scripts/fuzz.sh   # longer run (make fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."

EXAMPLES="${FUZZ_EXAMPLES:-25}"
PROFILE="${FUZZ_PROFILE:-debug}"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
BIN="$TARGET_DIR/$PROFILE"
WORK="$TARGET_DIR/fuzz"
KEY="fuzz-admin-key"

if ! command -v schemathesis >/dev/null 2>&1; then
    echo "installing schemathesis (PyPI)…"
    python3 -m pip install --quiet 'schemathesis>=4,<5'
fi

if [ "$PROFILE" = release ]; then
    cargo build --release -p cohai-server -p cohai-bootstrap
else
    cargo build -p cohai-server -p cohai-bootstrap
fi

rm -rf "$WORK" && mkdir -p "$WORK"
export DATABASE_URL="sqlite://$WORK/fuzz.db"
"$BIN/cohai-bootstrap" seed >/dev/null

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
COHAI_BIND="127.0.0.1:$PORT" COHAI_ADMIN_API_KEY="$KEY" COHAI_LEAD_RATE_PER_MINUTE=0 RUST_LOG=warn \
    "$BIN/cohai-server" 2>"$WORK/server.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done

echo "fuzzing every operation with $EXAMPLES examples each…"
schemathesis run "http://127.0.0.1:$PORT/api/v1/openapi.json" \
    --url "http://127.0.0.1:$PORT" \
    --header "Authorization: Bearer $KEY" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$EXAMPLES" \
    --phases examples,coverage,fuzzing \
    --suppress-health-check all \
    --no-color --seed 1 \
    --workers 1 \
    --exclude-path /api/v1/test-error

if grep -q "panicked" "$WORK/server.log"; then
    echo "the server panicked during fuzzing:"; grep -A3 panicked "$WORK/server.log"; exit 1
fi
echo "fuzz: done ($EXAMPLES examples per operation); server log in $WORK/server.log"
