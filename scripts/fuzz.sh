#!/usr/bin/env bash
# Property-based fuzzing of the whole HTTP surface from the project's own OpenAPI document
# (schemathesis). Starts a server on a fresh seeded SQLite database, validates the document it
# serves (scripts/check-openapi.sh), then runs every schemathesis check (`--checks all`): no
# 5xx, every status and header documented, every response conforms to its schema, requests the
# document allows are accepted and requests it forbids are rejected (see scripts/schemathesis.toml
# for the few statuses the document cannot predict).
#
# Each run draws a fresh random seed and prints it, so every run explores new inputs and a
# failure can be replayed with FUZZ_SEED.
#
#   scripts/fuzz.sh                      # bounded run (FUZZ_EXAMPLES=25 per operation), as in CI
#   FUZZ_EXAMPLES=500 scripts/fuzz.sh    # longer run (make fuzz)
#   FUZZ_SEED=123456 scripts/fuzz.sh     # replay the run that printed "seed 123456"
#   FUZZ_ARGS="--include-operation-id listLeads" scripts/fuzz.sh   # more schemathesis options
set -euo pipefail
cd "$(dirname "$0")/.."

EXAMPLES="${FUZZ_EXAMPLES:-25}"
PROFILE="${FUZZ_PROFILE:-debug}"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
BIN="$TARGET_DIR/$PROFILE"
WORK="$TARGET_DIR/fuzz"
KEY="fuzz-admin-key"
SEED="${FUZZ_SEED:-$(python3 -c 'import secrets; print(secrets.randbelow(2**31))')}"

if ! command -v schemathesis >/dev/null 2>&1; then
    echo "installing schemathesis (PyPI)…"
    python3 -m pip install --quiet 'schemathesis>=4.32,<5'
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

curl -fsS "http://127.0.0.1:$PORT/api/v1/openapi.json" -o "$WORK/openapi.json"
scripts/check-openapi.sh "$WORK/openapi.json"

echo "fuzzing every operation with $EXAMPLES examples each, seed $SEED (replay: FUZZ_SEED=$SEED)…"
schemathesis --config-file scripts/schemathesis.toml run "http://127.0.0.1:$PORT/api/v1/openapi.json" \
    --url "http://127.0.0.1:$PORT" \
    --header "Authorization: Bearer $KEY" \
    --checks all \
    --max-examples "$EXAMPLES" \
    --phases examples,coverage,fuzzing \
    --suppress-health-check all \
    --no-color --seed "$SEED" \
    --workers 1 \
    --exclude-path /api/v1/test-error ${FUZZ_ARGS:-} || FAILED=1

if grep -q "panicked" "$WORK/server.log"; then
    echo "the server panicked during fuzzing:"; grep -A3 panicked "$WORK/server.log"; FAILED=1
fi
if [ -n "${FAILED:-}" ]; then
    echo "fuzz: failed; replay with FUZZ_SEED=$SEED FUZZ_EXAMPLES=$EXAMPLES scripts/fuzz.sh"
    exit 1
fi
echo "fuzz: done ($EXAMPLES examples per operation, seed $SEED); server log in $WORK/server.log"
