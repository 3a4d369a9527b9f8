#!/usr/bin/env bash
# Load benchmark of cohai-server with wrk. Run by `make bench` / `make bench-scale`.
#
# Per backend: a fresh database, `cohai-bootstrap seed` (and, with BENCH_SCALE=1,
# `generate --locations 50 --sessions 1000000 --leads 1000000`), a first server start (applies
# any pending migrations) and stop, then a timed second start on the existing database, 200
# leads submitted with curl, then wrk against each endpoint: a warm-up run (discarded) and a
# measured run. Prints one table per backend and writes target/bench/bench-<timestamp>.json
# and target/bench/latest.json.
#
# Environment:
#   BENCH_DURATION     seconds measured per endpoint (default 10)
#   BENCH_CONNECTIONS  wrk connections (default 64)
#   BENCH_THREADS      wrk threads (default 2)
#   BENCH_WARMUP       warm-up seconds per endpoint (default 2)
#   BENCH_SMOKE=1      quick check: 1 s per endpoint, 4 connections, 1 s warm-up
#   BENCH_SCALE=1      add 2 million generated rows before benchmarking; backends default to
#                      "sqlite postgres"
#   BENCH_BACKEND      sqlite | postgres | "sqlite postgres" (default sqlite, see BENCH_SCALE)
#   BENCH_PG_URL       PostgreSQL server (default postgres://postgres@127.0.0.1:5432); a fresh
#                      database cohai_bench_<pid> is created there and dropped at the end
#   BENCH_SCALE_LOCATIONS / BENCH_SCALE_SESSIONS / BENCH_SCALE_LEADS  generate sizes
#   BENCH_KEEP_DB=1    keep the SQLite database of a scale run (about 1 GB) under target/bench
#   CARGO_TARGET_DIR   where cargo builds (binaries under ${CARGO_TARGET_DIR:-target}/release)
#   BENCH_NO_BUILD=1   skip `cargo build` (use the binaries already built)
#   BENCH_WEBHOOK=down register a webhook for every event type at a closed loopback port (the
#                      receiver is down: every delivery fails and is retried), to measure the
#                      form and admin calls while notifications fail
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -n ${BENCH_WEBHOOK:-} ]]; then
    # The dead receiver is on loopback, which the SSRF check refuses by default.
    export COHAI_WEBHOOKS__ALLOW_PRIVATE_TARGETS=true
fi
cd "$ROOT" # relative paths below (and a relative CARGO_TARGET_DIR) are from the repository root

TARGET_DIR=${CARGO_TARGET_DIR:-target}
case $TARGET_DIR in /*) ;; *) TARGET_DIR=$ROOT/$TARGET_DIR ;; esac
BIN=$TARGET_DIR/release
BENCH_DIR=$ROOT/target/bench
REPORT=$ROOT/scripts/bench/report.py
POST_LUA=$ROOT/scripts/bench/post_lead.lua

SCALE=${BENCH_SCALE:-0}
SMOKE=${BENCH_SMOKE:-0}
THREADS=${BENCH_THREADS:-2}
if [[ $SMOKE == 1 ]]; then
    DURATION=${BENCH_DURATION:-1}
    CONNECTIONS=${BENCH_CONNECTIONS:-4}
    WARMUP=${BENCH_WARMUP:-1}
else
    DURATION=${BENCH_DURATION:-10}
    CONNECTIONS=${BENCH_CONNECTIONS:-64}
    WARMUP=${BENCH_WARMUP:-2}
fi
if [[ $SCALE == 1 ]]; then
    BACKENDS=${BENCH_BACKEND:-sqlite postgres}
else
    BACKENDS=${BENCH_BACKEND:-sqlite}
fi
[[ $BACKENDS == both || $BACKENDS == all ]] && BACKENDS="sqlite postgres"
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
PG_DB=cohai_bench_$$
SCALE_LOCATIONS=${BENCH_SCALE_LOCATIONS:-50}
SCALE_SESSIONS=${BENCH_SCALE_SESSIONS:-1000000}
SCALE_LEADS=${BENCH_SCALE_LEADS:-1000000}
PREFILL_LEADS=200

MODE=full
[[ $SCALE == 1 ]] && MODE=scale
[[ $SMOKE == 1 ]] && MODE=$MODE-smoke

for b in $BACKENDS; do
    [[ $b == sqlite || $b == postgres ]] || { echo "bench: unknown backend '$b' (sqlite | postgres)" >&2; exit 2; }
done
for n in "$THREADS" "$CONNECTIONS" "$DURATION" "$WARMUP"; do
    [[ $n =~ ^[0-9]+$ ]] || { echo "bench: '$n' is not a whole number" >&2; exit 2; }
done
((THREADS >= 1 && THREADS <= 10)) || { echo "bench: BENCH_THREADS must be 1..10" >&2; exit 2; }
((CONNECTIONS >= THREADS)) || { echo "bench: BENCH_CONNECTIONS must be >= BENCH_THREADS" >&2; exit 2; }
((DURATION >= 1)) || { echo "bench: BENCH_DURATION must be >= 1" >&2; exit 2; }

log() { printf '%s\n' "$*" >&2; }
now_ms() { date +%s%3N; }

# --- tools ----------------------------------------------------------------------------------
need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk; then
    log "bench: wrk is missing; installing the Debian package"
    if [[ $(id -u) == 0 ]]; then apt-get install -y wrk >&2 || { apt-get update >&2 && apt-get install -y wrk >&2; }
    else sudo apt-get install -y wrk >&2; fi
fi
for tool in wrk curl python3; do
    need "$tool" || { log "bench: $tool is required"; exit 1; }
done
if [[ " $BACKENDS " == *" postgres "* ]]; then
    need psql || { log "bench: psql is required for the PostgreSQL run"; exit 1; }
fi

# --- state and cleanup ----------------------------------------------------------------------
SERVER_PID=
PG_CREATED=0
stop_server() {
    if [[ -n $SERVER_PID ]]; then
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            kill -TERM "$SERVER_PID" 2>/dev/null || true
            # The server finishes requests in flight; give it 15 s before SIGKILL.
            local i
            for ((i = 0; i < 150; i++)); do
                kill -0 "$SERVER_PID" 2>/dev/null || break
                sleep 0.1
            done
            kill -0 "$SERVER_PID" 2>/dev/null && kill -KILL "$SERVER_PID" 2>/dev/null
        fi
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}
drop_pg() {
    if [[ $PG_CREATED == 1 ]]; then
        psql "$PG_URL/postgres" -q -v ON_ERROR_STOP=1 \
            -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 ||
            log "bench: could not drop database $PG_DB"
        PG_CREATED=0
    fi
}
cleanup() {
    local rc=$?
    stop_server
    drop_pg
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- build ----------------------------------------------------------------------------------
if [[ ${BENCH_NO_BUILD:-0} != 1 ]]; then
    log "bench: cargo build --release -p cohai-server -p cohai-bootstrap (target dir $TARGET_DIR)"
    cargo build --release -p cohai-server -p cohai-bootstrap
fi
for b in cohai-server cohai-bootstrap; do
    [[ -x $BIN/$b ]] || { log "bench: $BIN/$b not found"; exit 1; }
done

mkdir -p "$BENCH_DIR"
TIMESTAMP=$(date -u +%Y%m%dT%H%M%SZ)
RUN_DIR=$BENCH_DIR/run-$TIMESTAMP
rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR"
ADMIN_KEY=bench-$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')
# Per-run offset of the POST phones (see scripts/bench/post_lead.lua).
PHONE_OFFSET=$((10#$(date +%H) * 3600 + 10#$(date +%M) * 60 + 10#$(date +%S)))

{
    printf 'timestamp\t%s\n' "$TIMESTAMP"
    printf 'mode\t%s\n' "$MODE"
    printf 'backends\t%s\n' "$BACKENDS"
    printf 'threads\t%s\n' "$THREADS"
    printf 'connections\t%s\n' "$CONNECTIONS"
    printf 'duration_s\t%s\n' "$DURATION"
    printf 'warmup_s\t%s\n' "$WARMUP"
    printf 'cpus\t%s\n' "$(nproc)"
    printf 'git_commit\t%s\n' "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- crates migrations 2>/dev/null || echo -dirty)"
    printf 'wrk\t%s\n' "$(wrk -v 2>&1 | head -n1 | awk '{print $2}')"
    printf 'host\t%s\n' "$(uname -sr)"
} >"$RUN_DIR/run.tsv"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Starts the server in the background with the current DATABASE_URL; sets SERVER_PID, PORT.
# Picks a free port for the next start (outside the timed start-up: it runs python3).
pick_port() {
    PORT=$(free_port)
    BASE=http://127.0.0.1:$PORT
}

start_server() {
    COHAI_BIND=127.0.0.1:$PORT \
        COHAI_ADMIN_API_KEY=$ADMIN_KEY \
        COHAI_LEAD_RATE_PER_MINUTE=0 \
        RUST_LOG=warn \
        "$BIN/cohai-server" >>"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
}

# Polls /health until 200; prints the milliseconds since $1 (epoch ms). Fails after 60 s.
wait_healthy() {
    local t0=$1 code
    while :; do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$BASE/health" 2>/dev/null || true)
        if [[ $code == 200 ]]; then
            echo $(($(now_ms) - t0))
            return 0
        fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            log "bench: the server exited; its log ($SERVER_LOG):"
            tail -n 30 "$SERVER_LOG" >&2
            return 1
        fi
        if (($(now_ms) - t0 > 60000)); then
            log "bench: the server did not answer /health within 60 s"
            return 1
        fi
    done
}

admin_total() {
    curl -sf -H "Authorization: Bearer $ADMIN_KEY" "$BASE/api/v1/admin/leads?limit=1" |
        python3 "$REPORT" json-path total
}

# Runs wrk; output to file $1, the rest are wrk arguments.
run_wrk() {
    local out=$1
    shift
    if ! wrk "$@" >"$out" 2>&1; then
        log "bench: wrk failed:"
        cat "$out" >&2
        return 1
    fi
}

bench_backend() {
    local backend=$1 dir=$RUN_DIR/$1
    mkdir -p "$dir"
    SERVER_LOG=$dir/server.log
    : >"$SERVER_LOG"
    : >"$dir/endpoints.tsv"
    local meta=$dir/meta.tsv
    : >"$meta"
    printf 'connections\t%s\n' "$CONNECTIONS" >>"$meta"

    log ""
    log "=== $backend ==="
    case $backend in
    sqlite)
        local db=$BENCH_DIR/bench-sqlite.db
        rm -f "$db" "$db-wal" "$db-shm" "$db-journal"
        export DATABASE_URL=sqlite://$db
        ;;
    postgres)
        psql "$PG_URL/postgres" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $PG_DB" >/dev/null
        PG_CREATED=1
        export DATABASE_URL=$PG_URL/$PG_DB
        ;;
    esac
    log "database: ${DATABASE_URL}"

    local t0 t1
    t0=$(now_ms)
    RUST_LOG=warn "$BIN/cohai-bootstrap" seed >"$dir/seed.log" 2>&1 || {
        log "bench: cohai-bootstrap seed failed:"
        cat "$dir/seed.log" >&2
        return 1
    }
    t1=$(now_ms)
    local seed_s
    seed_s=$(awk -v ms=$((t1 - t0)) 'BEGIN { printf "%.2f", ms / 1000 }')
    printf 'seed_s\t%s\n' "$seed_s" >>"$meta"
    log "seed: ${seed_s} s"

    if [[ $SCALE == 1 ]]; then
        log "generate --locations $SCALE_LOCATIONS --sessions $SCALE_SESSIONS --leads $SCALE_LEADS …"
        t0=$(now_ms)
        RUST_LOG=warn "$BIN/cohai-bootstrap" generate --locations "$SCALE_LOCATIONS" \
            --sessions "$SCALE_SESSIONS" --leads "$SCALE_LEADS" 2>&1 | tee "$dir/generate.log" >&2
        t1=$(now_ms)
        local gen_s
        gen_s=$(awk -v ms=$((t1 - t0)) 'BEGIN { printf "%.1f", ms / 1000 }')
        printf 'generate_s\t%s\n' "$gen_s" >>"$meta"
        printf 'generate\t--locations %s --sessions %s --leads %s\n' "$SCALE_LOCATIONS" \
            "$SCALE_SESSIONS" "$SCALE_LEADS" >>"$meta"
        log "generate: ${gen_s} s"
        if [[ $backend == sqlite ]]; then
            printf 'db_size_mib\t%s\n' "$(du -m "$db" | cut -f1)" >>"$meta"
        fi
    fi

    # First start: applies pending migrations (none after seed, normally), then stop.
    pick_port
    t0=$(now_ms)
    start_server
    local first_ms
    first_ms=$(wait_healthy "$t0")
    stop_server
    # Second start on the existing database: this is the start-up time reported.
    pick_port
    t0=$(now_ms)
    start_server
    local startup_ms
    startup_ms=$(wait_healthy "$t0")
    printf 'first_start_ms\t%s\nstartup_ms\t%s\nport\t%s\n' "$first_ms" "$startup_ms" "$PORT" >>"$meta"
    log "server pid $SERVER_PID on $BASE; start-up ${startup_ms} ms (first start ${first_ms} ms)"

    if [[ ${BENCH_WEBHOOK:-} == down ]]; then
        local dead_port
        dead_port=$(free_port)
        curl -sf -o /dev/null -H "Authorization: Bearer $ADMIN_KEY" -H 'Content-Type: application/json' \
            -d "{\"url\": \"http://127.0.0.1:$dead_port/hook\", \"events\": [\"lead.created\", \"lead.resubmitted\", \"lead.status_changed\", \"lead.assigned\", \"lead.updated\", \"lead.erased\", \"class_session.cancelled\"]}" \
            "$BASE/api/v1/admin/webhooks"
        printf 'webhook\tdown (127.0.0.1:%s)\n' "$dead_port" >>"$meta"
        log "a webhook for every event at the closed port $dead_port"
    fi

    local location_id
    location_id=$(curl -sf "$BASE/api/v1/locations" | python3 "$REPORT" json-path items.0.id)
    local today week
    today=$(date -u +%F)
    week=$(date -u -d "$today + 7 days" +%F)
    printf 'location_id\t%s\n' "$location_id" >>"$meta"

    # Give the admin list something to show: $PREFILL_LEADS leads through the public form,
    # over one curl process (keep-alive). Prefix 910 (see post_lead.lua about the prefixes).
    local args=() i
    for ((i = 0; i < PREFILL_LEADS; i++)); do
        ((i > 0)) && args+=(--next)
        args+=(-s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json'
            --data "{\"name\":\"Bench prefill\",\"phone\":\"+7910$(printf '%07d' $(((PHONE_OFFSET * 1000 + i) % 10000000)))\",\"consent\":true}"
            "$BASE/api/v1/leads")
    done
    local prefill_codes
    prefill_codes=$(curl "${args[@]}" | sort | uniq -c | awk '{printf "%s%s×%s", sep, $2, $1; sep=", "}')
    log "prefill: $PREFILL_LEADS leads ($prefill_codes)"
    printf 'prefill\t%s\n' "$prefill_codes" >>"$meta"

    local auth="Authorization: Bearer $ADMIN_KEY"
    # name | method | path-and-query | extra wrk arguments (one string, split on |)
    local endpoints=(
        "/health|GET|/health|"
        "/api/v1/locations|GET|/api/v1/locations|"
        "/api/v1/program-types|GET|/api/v1/program-types|"
        "/api/v1/memberships|GET|/api/v1/memberships?location_id=$location_id|"
        "/api/v1/schedule|GET|/api/v1/schedule?location_id=$location_id&from=${today}T00:00:00Z&to=${week}T00:00:00Z|"
        "/api/v1/admin/leads|GET|/api/v1/admin/leads?limit=50|admin"
        "/api/v1/leads|POST|/api/v1/leads|post"
    )
    local count=${#endpoints[@]} n=0 entry name method path kind
    for entry in "${endpoints[@]}"; do
        n=$((n + 1))
        IFS='|' read -r name method path kind <<<"$entry"
        local label=$name
        [[ $method != GET ]] && label="$method $name"
        log "[$n/$count] $label …"
        local extra=()
        case $kind in
        admin) extra=(-H "$auth") ;;
        post) extra=(-s "$POST_LUA") ;;
        esac
        local warm_args=() run_args=()
        if [[ $kind == post ]]; then
            # Distinct mobile codes for the warm-up and the measured run.
            warm_args=(-- 911 "$PHONE_OFFSET")
            run_args=(-- 913 "$PHONE_OFFSET")
        fi
        local file=$dir/$(printf '%02d' "$n")-$(echo "$name" | tr -c 'a-zA-Z0-9\n' '_' | sed 's/^_*//').txt
        if ((WARMUP > 0)); then
            run_wrk "$file.warmup" -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" \
                "${extra[@]}" "$BASE$path" "${warm_args[@]}"
        fi
        if [[ $kind == post ]]; then
            local before after
            sleep 1 # requests in flight when the warm-up stopped
            before=$(admin_total)
            run_wrk "$file" -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency \
                "${extra[@]}" "$BASE$path" "${run_args[@]}"
            # Let requests still in flight at wrk's stop finish before counting.
            sleep 1
            after=$(admin_total)
            printf 'leads_before\t%s\nleads_after\t%s\n' "$before" "$after" >>"$meta"
        else
            run_wrk "$file" -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency \
                "${extra[@]}" "$BASE$path"
        fi
        printf '%s\t%s\t%s\t%s\n' "$name" "$method" "$path" "$file" >>"$dir/endpoints.tsv"
        python3 "$REPORT" line "$file" >&2
    done

    local hwm
    hwm=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$SERVER_PID/status")
    printf 'peak_rss_mib\t%s\n' "$hwm" >>"$meta"
    stop_server
    if [[ $backend == sqlite ]]; then
        printf 'db_size_after_mib\t%s\n' "$(du -m "$db" | cut -f1)" >>"$meta"
        # The scale database is about a gigabyte: keep it only when asked to.
        if [[ $SCALE == 1 && ${BENCH_KEEP_DB:-0} != 1 ]]; then
            rm -f "$db" "$db-wal" "$db-shm"
        fi
    fi
    if grep -qiE ' (ERROR|WARN) ' "$SERVER_LOG"; then
        printf 'server_log_warnings\t%s\n' "$(grep -ciE ' (ERROR|WARN) ' "$SERVER_LOG")" >>"$meta"
        log "server log has warnings/errors (first 5, full log $SERVER_LOG):"
        grep -iE ' (ERROR|WARN) ' "$SERVER_LOG" | head -n 5 >&2 || true # SIGPIPE under pipefail
    fi
    [[ $backend == postgres ]] && drop_pg
    unset DATABASE_URL
    return 0
}

for backend in $BACKENDS; do
    bench_backend "$backend"
done

python3 "$REPORT" report "$RUN_DIR" "$BENCH_DIR/bench-$TIMESTAMP.json" "$BENCH_DIR/latest.json"
log "JSON: target/bench/bench-$TIMESTAMP.json (also target/bench/latest.json); raw wrk output: ${RUN_DIR#"$ROOT"/}"
