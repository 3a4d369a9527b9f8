# Cohai Stretching backend. `make run` builds, migrates, seeds and serves; `make test` runs
# every test (SQLite and PostgreSQL). See README.md.

CARGO ?= cargo
RELEASE_BIN := target/release
export COHAI_TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/postgres

.PHONY: all build run seed migrate check test test-reliability fuzz test-doc lint fmt clippy check-web-deps openapi \
        docker-check bench bench-scale clean help

all: build

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

build: ## Build release binaries (cohai-server, cohai-bootstrap)
	$(CARGO) build --release -p cohai-server -p cohai-bootstrap

migrate: build ## Apply pending migrations to DATABASE_URL (default: data/cohai.db)
	$(RELEASE_BIN)/cohai-bootstrap migrate

seed: build ## Migrate and load the demo data (idempotent)
	$(RELEASE_BIN)/cohai-bootstrap seed

check: build ## Verify the database matches the mapped schema
	$(RELEASE_BIN)/cohai-bootstrap check

run: build ## Build, migrate, seed and serve on 127.0.0.1:8080
	$(RELEASE_BIN)/cohai-bootstrap seed
	$(RELEASE_BIN)/cohai-server

test: ## Run every test on SQLite and PostgreSQL (PostgreSQL must be up: see README)
	$(CARGO) nextest run --workspace --no-fail-fast
	$(CARGO) test --workspace --doc

test-reliability: ## Crash (SIGKILL mid-load), database outage and overload tests, both backends
	$(CARGO) nextest run -p cohai-server --test reliability --no-fail-fast

fuzz: ## Long schemathesis run over every operation of the OpenAPI document (CI runs a short one)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-500} FUZZ_PROFILE=release scripts/fuzz.sh

fmt: ## Format the code
	$(CARGO) fmt --all

lint: check-web-deps ## fmt --check, clippy -D warnings, and the layering check
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

check-web-deps: ## Fail if the web crate depends on diesel
	@if $(CARGO) tree -p cohai-web -i diesel >/dev/null 2>&1; then \
		echo "cohai-web depends on diesel:"; $(CARGO) tree -p cohai-web -i diesel; exit 1; \
	else echo "cohai-web does not depend on diesel"; fi

openapi: ## Regenerate docs/openapi.json from the code
	COHAI_UPDATE_OPENAPI=1 $(CARGO) test -p cohai-e2e --test openapi

docker-check: ## Validate docker/compose.yaml and lint docker/Dockerfile (no engine needed)
	docker-compose -f docker/compose.yaml config -q
	hadolint docker/Dockerfile

bench: ## Load benchmark with wrk (BENCH_SMOKE=1 quick, BENCH_BACKEND=postgres, BENCH_DURATION=…)
	scripts/bench.sh

bench-scale: ## The benchmark after generating 1M sessions + 1M leads, on SQLite then PostgreSQL
	BENCH_SCALE=1 scripts/bench.sh

clean:
	$(CARGO) clean
