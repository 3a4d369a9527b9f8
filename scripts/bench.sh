#!/usr/bin/env bash
# Load benchmark of cohai-server with wrk. Run by `make bench` / `make bench-scale`.
#
# Per backend: a fresh database, `cohai-bootstrap seed` (and, with BENCH_SCALE=1,
# `generate --locations 50 --sessions 1000000 --leads 1000000`), a first server start (applies
# any pending migrations) and stop, then a timed second start on the existing database, 200
# leads submitted with curl, then wrk against each endpoint: a warm-up run (discarded) and a
# measured run. With BENCH_SCALE=1, before the timed start, a "scale paths" phase on a server of
# its own (response caches off: the cold path) times single curl requests of the heavy admin
# and feed paths (CSV export, stats, class-session list, ICS) and samples its VmHWM around the
# export; see scale_paths below. Prints one table per backend and writes target/bench/bench-<timestamp>.json
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
#   BENCH_SCALE_REPS   repetitions of each single-request timing of the scale paths (default 3)
#   BENCH_KEEP_DB=1    keep the SQLite database of a scale run (about 1 GB) under target/bench
#   CARGO_TARGET_DIR   where cargo builds (binaries under ${CARGO_TARGET_DIR:-target}/release)
#   BENCH_NO_BUILD=1   skip `cargo build` (use the binaries already built)
#   BENCH_WEBHOOK=down register a webhook for every event type at a closed loopback port (the
#                      receiver is down: every delivery fails and is retried), to measure the
#                      form and admin calls while notifications fail
#   BENCH_INSTANCES=2  (PostgreSQL only) run that many cohai-server processes (1..4, default 1)
#                      on the one database, each on its own port. Each endpoint is driven by one
#                      wrk per instance, started together for the same duration, each with
#                      BENCH_THREADS/N threads and BENCH_CONNECTIONS/N connections (both must
#                      divide evenly). req/s and counts are summed; each latency percentile is
#                      the worse of the instances' (see merge_runs in scripts/bench/report.py).
#                      The first start (migrations) is one server as with one instance; the
#                      start-up reported is until every instance answers /health
#   BENCH_CACHE=off    start the servers with COHAI_PUBLIC_CACHE_TTL_MS=0 and
#                      COHAI_ADMIN_LIST_CACHE_TTL_MS=0 (no response caches: the cold path);
#                      default on (the servers' own defaults)
#   BENCH_CLIENTS      one (default): every POST from 127.0.0.1, one client; many: each POST
#                      from an address of its own (X-Forwarded-For, believed from loopback), so
#                      a rate limit keeps one entry per client as with real visitors
#   BENCH_RATE_LIMIT=N COHAI_LEAD_RATE_PER_MINUTE for the servers (default 0 = limiter off);
#                      a huge N (1000000000) measures the limiter's cost per POST without it
#                      refusing anything. It applies to the 200 prefill leads too (a small N
#                      makes them 429). Every request comes from 127.0.0.1, so all share one
#                      limiter key (on PostgreSQL one row of rate_limits, over every instance):
#                      the most contended case, not many clients' cost
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WEBHOOK=${BENCH_WEBHOOK:-}
[[ -z $WEBHOOK || $WEBHOOK == down ]] || { echo "bench: BENCH_WEBHOOK must be empty or 'down'" >&2; exit 2; }
if [[ -n $WEBHOOK ]]; then
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
SCALE_REPS=${BENCH_SCALE_REPS:-3}
PREFILL_LEADS=200
INSTANCES=${BENCH_INSTANCES:-1}
CACHE=${BENCH_CACHE:-on}
RATE_LIMIT=${BENCH_RATE_LIMIT:-0}
CLIENTS=${BENCH_CLIENTS:-one}
[[ $CLIENTS == one || $CLIENTS == many ]] ||
    { echo "bench: BENCH_CLIENTS must be 'one' or 'many'" >&2; exit 2; }

MODE=full
[[ $SCALE == 1 ]] && MODE=scale
[[ $SMOKE == 1 ]] && MODE=$MODE-smoke

for b in $BACKENDS; do
    [[ $b == sqlite || $b == postgres ]] || { echo "bench: unknown backend '$b' (sqlite | postgres)" >&2; exit 2; }
done
for n in "$THREADS" "$CONNECTIONS" "$DURATION" "$WARMUP" "$INSTANCES" "$RATE_LIMIT" "$SCALE_REPS"; do
    [[ $n =~ ^[0-9]+$ ]] || { echo "bench: '$n' is not a whole number" >&2; exit 2; }
done
((THREADS >= 1 && THREADS <= 10)) || { echo "bench: BENCH_THREADS must be 1..10" >&2; exit 2; }
((CONNECTIONS >= THREADS)) || { echo "bench: BENCH_CONNECTIONS must be >= BENCH_THREADS" >&2; exit 2; }
((DURATION >= 1)) || { echo "bench: BENCH_DURATION must be >= 1" >&2; exit 2; }
((SCALE_REPS >= 1)) || { echo "bench: BENCH_SCALE_REPS must be >= 1" >&2; exit 2; }
((INSTANCES >= 1 && INSTANCES <= 4)) || { echo "bench: BENCH_INSTANCES must be 1..4" >&2; exit 2; }
if ((INSTANCES > 1)); then
    if [[ " $BACKENDS " == *" sqlite "* ]]; then
        echo "bench: BENCH_INSTANCES=$INSTANCES is for PostgreSQL only (one SQLite file is not shared" \
            "by several servers); use BENCH_BACKEND=postgres" >&2
        exit 2
    fi
    ((THREADS % INSTANCES == 0 && CONNECTIONS % INSTANCES == 0)) || {
        echo "bench: BENCH_THREADS ($THREADS) and BENCH_CONNECTIONS ($CONNECTIONS) must be multiples of" \
            "BENCH_INSTANCES ($INSTANCES): each instance gets an equal share" >&2
        exit 2
    }
fi
[[ $CACHE == on || $CACHE == off ]] || { echo "bench: BENCH_CACHE must be 'on' or 'off'" >&2; exit 2; }
# The setting is a u32: larger values would make the server refuse to start.
((${#RATE_LIMIT} <= 10 && 10#$RATE_LIMIT <= 4294967295)) ||
    { echo "bench: BENCH_RATE_LIMIT must be at most 4294967295" >&2; exit 2; }
RATE_LIMIT=$((10#$RATE_LIMIT))

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
SERVER_PIDS=() # every cohai-server started and not yet stopped
WRK_PIDS=()    # wrk processes running in the background (run_load)
PG_CREATED=0
any_alive() {
    local pid
    for pid in "$@"; do
        if kill -0 "$pid" 2>/dev/null; then return 0; fi
    done
    return 1
}
# Stops every started server: SIGTERM to all, then SIGKILL to those still running after 15 s
# (a server finishes the requests in flight first).
stop_servers() {
    ((${#SERVER_PIDS[@]} > 0)) || return 0
    local pid i
    for pid in "${SERVER_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for ((i = 0; i < 150; i++)); do
        any_alive "${SERVER_PIDS[@]}" || break
        sleep 0.1
    done
    for pid in "${SERVER_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            log "bench: server $pid still running after 15 s; SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    SERVER_PIDS=()
}
stop_wrk() {
    ((${#WRK_PIDS[@]} > 0)) || return 0
    local pid
    for pid in "${WRK_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true # background jobs ignore SIGINT
    done
    for pid in "${WRK_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    WRK_PIDS=()
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
    stop_wrk
    stop_servers
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
    printf 'instances\t%s\n' "$INSTANCES"
    printf 'cache\t%s\n' "$CACHE"
    printf 'rate_limit_per_minute\t%s\n' "$RATE_LIMIT"
    printf 'webhook\t%s\n' "${WEBHOOK:-none}"
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

# Picks $1 distinct free ports (all bound at once) for the next start, outside the timed
# start-up (it runs python3); sets PORTS and BASES (instance i at ${BASES[i]}) and BASE, the
# first instance's, for the set-up calls.
pick_ports() {
    read -r -a PORTS <<<"$(python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()' "$1")"
    BASES=()
    local port
    for port in "${PORTS[@]}"; do
        BASES+=("http://127.0.0.1:$port")
    done
    BASE=${BASES[0]}
}

# The environment of every server, from the knobs (the cache TTLs are left to the server's
# defaults when BENCH_CACHE is on).
SERVER_ENV=(COHAI_ADMIN_API_KEY="$ADMIN_KEY" COHAI_LEAD_RATE_PER_MINUTE="$RATE_LIMIT" RUST_LOG=warn)
# Many clients: the POSTs' X-Forwarded-For is believed from wrk on loopback.
[[ $CLIENTS == many ]] && SERVER_ENV+=(COHAI_TRUSTED_PROXIES='["127.0.0.1"]')
if [[ $CACHE == off ]]; then
    SERVER_ENV+=(COHAI_PUBLIC_CACHE_TTL_MS=0 COHAI_ADMIN_LIST_CACHE_TTL_MS=0)
fi

# Starts instance $1 (0-based) in the background on ${PORTS[$1]} with the current DATABASE_URL,
# logging to ${SERVER_LOGS[$1]}; adds its pid to SERVER_PIDS (so SERVER_PIDS[$1] is its pid
# when the instances are started in order after stop_servers).
start_server() {
    local i=$1
    env "${SERVER_ENV[@]}" COHAI_BIND="127.0.0.1:${PORTS[i]}" \
        "$BIN/cohai-server" >>"${SERVER_LOGS[i]}" 2>&1 &
    SERVER_PIDS+=($!)
}

# Polls instance $2's /health until 200; prints the milliseconds since $1 (epoch ms). Fails
# after 60 s.
wait_healthy() {
    local t0=$1 i=$2 code
    while :; do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "${BASES[i]}/health" 2>/dev/null || true)
        if [[ $code == 200 ]]; then
            echo $(($(now_ms) - t0))
            return 0
        fi
        if ! kill -0 "${SERVER_PIDS[i]}" 2>/dev/null; then
            log "bench: server $((i + 1)) exited; its log (${SERVER_LOGS[i]}):"
            tail -n 30 "${SERVER_LOGS[i]}" >&2
            return 1
        fi
        if (($(now_ms) - t0 > 60000)); then
            log "bench: the server did not answer /health within 60 s"
            return 1
        fi
    done
}

# The lead count, from the first instance. With several instances its cached list page is
# still fresh: the admin list cache is per instance and is invalidated by changes made through
# that instance only, but every wrk run of the POST endpoint (warm-up and measured) also sends
# leads through the first instance.
admin_total() {
    curl -sf -H "Authorization: Bearer $ADMIN_KEY" "$BASE/api/v1/admin/leads?limit=1" |
        python3 "$REPORT" json-path total
}

# run_load OUT SECONDS PATH PREFIX [WRK ARGS…]: one wrk per instance against its own
# ${BASES[i]}PATH, all started together (background jobs, then waited for), each with
# THREADS/INSTANCES threads and CONNECTIONS/INSTANCES connections for SECONDS. PREFIX, when
# not empty, is passed to post_lead.lua with the phone offset and the instance's first thread
# number (so the instances' phones differ). Output of instance i to OUT (one instance) or
# OUT.<i+1>; sets LOAD_FILES to those files.
run_load() {
    local out=$1 seconds=$2 path=$3 prefix=$4
    shift 4
    local t=$((THREADS / INSTANCES)) c=$((CONNECTIONS / INSTANCES)) i f
    local files=()
    WRK_PIDS=()
    for ((i = 0; i < INSTANCES; i++)); do
        f=$out
        ((INSTANCES > 1)) && f=$out.$((i + 1))
        local lua_args=()
        [[ -n $prefix ]] && lua_args=(-- "$prefix" "$PHONE_OFFSET" $((i * t)) "$CLIENTS")
        wrk -t"$t" -c"$c" -d"${seconds}s" "$@" "${BASES[i]}$path" "${lua_args[@]}" >"$f" 2>&1 &
        WRK_PIDS+=($!)
        files+=("$f")
    done
    local failed=0
    for ((i = 0; i < INSTANCES; i++)); do
        if ! wait "${WRK_PIDS[i]}"; then
            log "bench: wrk failed (${files[i]}):"
            cat "${files[i]}" >&2
            failed=1
        fi
    done
    WRK_PIDS=()
    LOAD_FILES=("${files[@]}")
    # A server that died during the run would leave its share of the numbers meaningless.
    for ((i = 0; i < INSTANCES; i++)); do
        if ! kill -0 "${SERVER_PIDS[i]}" 2>/dev/null; then
            log "bench: server $((i + 1)) exited during the run; its log (${SERVER_LOGS[i]}):"
            tail -n 30 "${SERVER_LOGS[i]}" >&2
            failed=1
        fi
    done
    return "$failed"
}

# VmRSS / VmHWM (MiB, one decimal) of process $2; $1 is the field (VmRSS or VmHWM).
proc_mib() {
    awk -v f="$1:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/$2/status"
}

# scale_paths DIR: the heavy single requests at scale, against one server of its own started
# with the response caches off (COHAI_PUBLIC_CACHE_TTL_MS=0, COHAI_ADMIN_LIST_CACHE_TTL_MS=0:
# every repetition takes the cold path, as the first request after a change does) and stopped
# at the end. Each path is fetched BENCH_SCALE_REPS times in a row with curl (a new connection
# each); DIR/scale_paths.tsv gets one line per path: key, path, target seconds, HTTP codes,
# bytes, times (seconds, comma-separated), the server's VmHWM (MiB) after that path (the peak
# only grows: a jump names the path that raised it). DIR/scale_meta.tsv gets the server's VmRSS/VmHWM at
# start, before and after the exports, and at the end. report.py turns them into the table.
scale_paths() {
    local dir=$1 out=$1/scale_paths.tsv sm=$1/scale_meta.tsv
    : >"$out"
    : >"$sm"
    local saved_env=("${SERVER_ENV[@]}")
    SERVER_ENV+=(COHAI_PUBLIC_CACHE_TTL_MS=0 COHAI_ADMIN_LIST_CACHE_TTL_MS=0)
    pick_ports 1
    local t0 pid
    t0=$(now_ms)
    start_server 0
    SERVER_ENV=("${saved_env[@]}")
    wait_healthy "$t0" 0 >/dev/null
    pid=${SERVER_PIDS[0]}
    local auth="Authorization: Bearer $ADMIN_KEY"
    # A generated studio (the seed's own has only the demo timetable).
    local loc
    loc=$(curl -sf "$BASE/api/v1/locations" | python3 -c '
import json, sys
items = json.load(sys.stdin)["items"]
bench = [l for l in items if l["name"].startswith("Bench studio")]
print((bench or items)[0]["id"])')
    local today week_end d90
    today=$(date -u +%F)
    week_end=$(date -u -d "$today + 6 days" +%F) # "to" as a date includes that whole day
    d90=$(date -u -d "$today - 90 days" +%F)
    printf 'location_id\t%s\nreps\t%s\n' "$loc" "$SCALE_REPS" >>"$sm"
    printf 'rss_start_mib\t%s\nhwm_start_mib\t%s\n' "$(proc_mib VmRSS "$pid")" "$(proc_mib VmHWM "$pid")" >>"$sm"
    log "scale paths (server pid $pid, caches off, $SCALE_REPS repetitions each, studio $loc):"

    # key | path | target seconds | admin?
    local paths=(
        "export_csv|/api/v1/admin/leads/export.csv|30|admin"
        "stats_all|/api/v1/admin/leads/stats|10|admin"
        "stats_90d|/api/v1/admin/leads/stats?created_from=$d90|3|admin"
        "sessions_filtered|/api/v1/admin/class-sessions?location_id=$loc&from=$today&to=$week_end&limit=50|0.1|admin"
        "sessions_first_page|/api/v1/admin/class-sessions?limit=50|0.1|admin"
        "ics_all|/api/v1/schedule.ics|1|"
        "ics_location|/api/v1/schedule.ics?location_id=$loc|1|"
    )
    local entry key path target kind r w codes times bytes code size secs hwm
    for entry in "${paths[@]}"; do
        IFS='|' read -r key path target kind <<<"$entry"
        local hdr=()
        [[ $kind == admin ]] && hdr=(-H "$auth")
        if [[ $key == export_csv ]]; then
            printf 'rss_before_export_mib\t%s\nhwm_before_export_mib\t%s\n' \
                "$(proc_mib VmRSS "$pid")" "$(proc_mib VmHWM "$pid")" >>"$sm"
        fi
        codes=() times=() bytes=0
        for ((r = 0; r < SCALE_REPS; r++)); do
            w=$(curl -s -o /dev/null --max-time 600 "${hdr[@]}" \
                -w '%{http_code} %{size_download} %{time_total}' "$BASE$path" || true)
            read -r code size secs <<<"$w"
            codes+=("${code:-000}")
            times+=("${secs:-0}")
            bytes=${size:-0}
        done
        if [[ $key == export_csv ]]; then
            printf 'rss_after_export_mib\t%s\nhwm_after_export_mib\t%s\n' \
                "$(proc_mib VmRSS "$pid")" "$(proc_mib VmHWM "$pid")" >>"$sm"
        fi
        local IFS_save=$IFS
        IFS=,
        hwm=$(proc_mib VmHWM "$pid")
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$key" "$path" "$target" "${codes[*]}" "$bytes" "${times[*]}" \
            "$hwm" >>"$out"
        log "  $key: codes ${codes[*]}, $bytes bytes, ${times[*]} s, VmHWM $hwm MiB"
        IFS=$IFS_save
    done
    printf 'rss_end_mib\t%s\nhwm_end_mib\t%s\n' "$(proc_mib VmRSS "$pid")" "$(proc_mib VmHWM "$pid")" >>"$sm"
    if ! kill -0 "$pid" 2>/dev/null; then
        log "bench: the scale-paths server exited; its log (${SERVER_LOGS[0]}):"
        tail -n 30 "${SERVER_LOGS[0]}" >&2
    fi
    stop_servers
}

bench_backend() {
    local backend=$1 dir=$RUN_DIR/$1
    mkdir -p "$dir"
    # One log per instance: server.log, then server-2.log, … (the first start logs to server.log).
    SERVER_LOGS=("$dir/server.log")
    local i
    for ((i = 2; i <= INSTANCES; i++)); do
        SERVER_LOGS+=("$dir/server-$i.log")
    done
    for i in "${!SERVER_LOGS[@]}"; do
        : >"${SERVER_LOGS[i]}"
    done
    : >"$dir/endpoints.tsv"
    local meta=$dir/meta.tsv
    : >"$meta"
    printf 'connections\t%s\n' "$CONNECTIONS" >>"$meta"
    printf 'instances\t%s\n' "$INSTANCES" >>"$meta"

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

    # First start: one server applies pending migrations (none after seed, normally), then stop.
    pick_ports 1
    t0=$(now_ms)
    start_server 0
    local first_ms
    first_ms=$(wait_healthy "$t0" 0)
    stop_servers
    if [[ $SCALE == 1 ]]; then
        scale_paths "$dir"
    fi
    # Second start on the existing database, every instance at once: the start-up time
    # reported is until the last of them answers /health (each is polled in turn).
    pick_ports "$INSTANCES"
    t0=$(now_ms)
    for ((i = 0; i < INSTANCES; i++)); do
        start_server "$i"
    done
    local startup_ms each=()
    for ((i = 0; i < INSTANCES; i++)); do
        startup_ms=$(wait_healthy "$t0" "$i")
        each+=("$startup_ms")
    done
    printf 'first_start_ms\t%s\nstartup_ms\t%s\nport\t%s\n' "$first_ms" "$startup_ms" "${PORTS[*]}" >>"$meta"
    if ((INSTANCES > 1)); then
        printf 'startup_ms_each\t%s\n' "${each[*]}" >>"$meta"
        log "server pids ${SERVER_PIDS[*]} on ${BASES[*]}; start-up ${startup_ms} ms for all" \
            "(each answered /health after ${each[*]} ms; first start ${first_ms} ms)"
    else
        log "server pid ${SERVER_PIDS[0]} on $BASE; start-up ${startup_ms} ms (first start ${first_ms} ms)"
    fi

    if [[ $WEBHOOK == down ]]; then
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
        local warm_prefix= run_prefix=
        if [[ $kind == post ]]; then
            # Distinct mobile codes for the warm-up and the measured run.
            warm_prefix=911
            run_prefix=913
        fi
        local file=$dir/$(printf '%02d' "$n")-$(echo "$name" | tr -c 'a-zA-Z0-9\n' '_' | sed 's/^_*//').txt
        if ((WARMUP > 0)); then
            run_load "$file.warmup" "$WARMUP" "$path" "$warm_prefix" "${extra[@]}"
        fi
        if [[ $kind == post ]]; then
            local before after
            sleep 1 # requests in flight when the warm-up stopped
            before=$(admin_total)
            run_load "$file" "$DURATION" "$path" "$run_prefix" --latency "${extra[@]}"
            # Let requests still in flight at wrk's stop finish before counting.
            sleep 1
            after=$(admin_total)
            printf 'leads_before\t%s\nleads_after\t%s\n' "$before" "$after" >>"$meta"
        else
            run_load "$file" "$DURATION" "$path" "" --latency "${extra[@]}"
        fi
        # One wrk output file per instance, after the name, method and path.
        {
            printf '%s\t%s\t%s' "$name" "$method" "$path"
            printf '\t%s' "${LOAD_FILES[@]}"
            printf '\n'
        } >>"$dir/endpoints.tsv"
        python3 "$REPORT" line "${LOAD_FILES[@]}" >&2
    done

    # Peak RSS of each instance; the table shows the largest.
    local hwm rss=() pid
    for pid in "${SERVER_PIDS[@]}"; do
        rss+=("$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")")
    done
    hwm=$(printf '%s\n' "${rss[@]}" | sort -g | tail -n1)
    printf 'peak_rss_mib\t%s\n' "$hwm" >>"$meta"
    ((INSTANCES > 1)) && printf 'peak_rss_mib_each\t%s\n' "${rss[*]}" >>"$meta"
    stop_servers
    if [[ $backend == sqlite ]]; then
        printf 'db_size_after_mib\t%s\n' "$(du -m "$db" | cut -f1)" >>"$meta"
        # The scale database is about a gigabyte: keep it only when asked to.
        if [[ $SCALE == 1 && ${BENCH_KEEP_DB:-0} != 1 ]]; then
            rm -f "$db" "$db-wal" "$db-shm"
        fi
    fi
    local warnings
    warnings=$(cat "${SERVER_LOGS[@]}" | grep -ciE ' (ERROR|WARN) ' || true)
    if ((warnings > 0)); then
        printf 'server_log_warnings\t%s\n' "$warnings" >>"$meta"
        log "server logs have warnings/errors (first 5, full logs ${SERVER_LOGS[*]}):"
        grep -iE ' (ERROR|WARN) ' "${SERVER_LOGS[@]}" | head -n 5 >&2 || true # SIGPIPE under pipefail
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
