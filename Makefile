# Cohai Stretching backend. `make run` builds, migrates, seeds and serves; `make test` runs
# every test (SQLite and PostgreSQL). See README.md.

CARGO ?= cargo
# Where cargo puts the binaries: CARGO_TARGET_DIR when set (relative to this directory, as
# cargo reads it), else target/.
RELEASE_BIN := $(or $(CARGO_TARGET_DIR),target)/release
export COHAI_TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/postgres

.PHONY: all build run seed migrate check test test-reliability fuzz test-doc lint fmt clippy check-web-deps check-bootstrap-deps openapi \
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

.PHONY: test-browser
test-browser: ## Headless chromium (playwright-core): Swagger UI at /docs and the managers' console at /admin/, CSP
	scripts/test-browser.sh

fuzz: ## Long schemathesis run over every operation of the OpenAPI document (CI runs a short one)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-500} FUZZ_PROFILE=release scripts/fuzz.sh

fmt: ## Format the code
	$(CARGO) fmt --all

lint: check-web-deps check-bootstrap-deps ## fmt --check, clippy -D warnings, and the layering checks
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# `cargo tree -i X` fails with "did not match any packages" when nothing depends on X; any
# other failure (a broken manifest) fails the check rather than passing it.
check-web-deps: ## Fail if the web crate depends on diesel
	@out=$$($(CARGO) tree -p cohai-web -i diesel 2>&1); rc=$$?; \
	if [ $$rc -eq 0 ]; then echo "cohai-web depends on diesel:"; echo "$$out"; exit 1; \
	elif echo "$$out" | grep -q 'did not match any packages'; then echo "cohai-web does not depend on diesel"; \
	else echo "$$out"; exit 1; fi

check-bootstrap-deps: ## Fail if cohai-bootstrap depends on actix-web (the web server)
	@out=$$($(CARGO) tree -p cohai-bootstrap -i actix-web 2>&1); rc=$$?; \
	if [ $$rc -eq 0 ]; then echo "cohai-bootstrap depends on actix-web:"; echo "$$out"; exit 1; \
	elif echo "$$out" | grep -q 'did not match any packages'; then echo "cohai-bootstrap does not depend on actix-web"; \
	else echo "$$out"; exit 1; fi

openapi: ## Regenerate docs/openapi.json from the code
	COHAI_UPDATE_OPENAPI=1 $(CARGO) test -p cohai-e2e --test openapi

.PHONY: postman test-postman
postman: ## Regenerate docs/cohai.postman_collection.json (+ environment) from docs/openapi.json
	COHAI_UPDATE_POSTMAN=1 $(CARGO) test -p cohai-e2e --test postman

test-postman: ## Run the Postman collection with newman (tools/newman) against a fresh seeded server
	scripts/newman.sh

docker-check: ## Validate docker/compose.yaml and lint docker/Dockerfile (no engine needed)
	docker-compose -f docker/compose.yaml config -q
	hadolint docker/Dockerfile

# The RustSec advisory snapshot (plain files, see ../shared/CRATES.md): ../shared/advisory-db
# beside this checkout, else /work/shared/advisory-db (CI's clones live elsewhere); or ADVISORY_DB=….
ADVISORY_DB ?= $(patsubst %/SNAPSHOT,%,$(firstword $(wildcard $(abspath $(CURDIR)/../shared/advisory-db/SNAPSHOT) /work/shared/advisory-db/SNAPSHOT)))
ADVISORY_DBS := $(abspath $(or $(CARGO_TARGET_DIR),target)/advisory-dbs)

# cargo-deny reads a git checkout and takes the newer of its HEAD commit's date and .git/HEAD's
# mtime as the database's age: both are set to the snapshot's date, so `maximum-db-staleness`
# in deny.toml sees its real age. Offline: run `cargo fetch` first when crates are missing.
.PHONY: deny
deny: ## cargo-deny offline against the RustSec snapshot: advisories, licences, bans, sources
	@test -n "$(ADVISORY_DB)" || { echo "no RustSec snapshot in ../shared/advisory-db or /work/shared/advisory-db: set ADVISORY_DB"; exit 1; }
	@db="$(ADVISORY_DBS)/advisory-db-3157b0e258782691"; when="$$(cut -d' ' -f2 "$(ADVISORY_DB)/SNAPSHOT")T00:00:00Z"; \
	rm -rf "$$db" && mkdir -p "$$db" && cp -R "$(ADVISORY_DB)/." "$$db/" && cd "$$db" && git init -q && git add -A && \
	GIT_AUTHOR_DATE="$$when" GIT_COMMITTER_DATE="$$when" git -c user.name=make -c user.email=make@localhost \
	    -c commit.gpgsign=false commit -qm "RustSec snapshot $$(cat SNAPSHOT)" && touch -d "$$when" .git/HEAD && \
	echo "advisory database: $(ADVISORY_DB) ($$(cat SNAPSHOT))"
	COHAI_ADVISORY_DBS="$(ADVISORY_DBS)" $(CARGO) deny --offline check advisories licenses sources
	@# Duplicate versions are warnings only: without their dependency graphs (pages of them).
	COHAI_ADVISORY_DBS="$(ADVISORY_DBS)" $(CARGO) deny --offline check --hide-inclusion-graph bans

.PHONY: deploy-check
deploy-check: ## systemd-analyze verify on deploy/*.service|timer, caddy validate on deploy/Caddyfile
	deploy/check.sh

bench: ## Load benchmark with wrk (BENCH_SMOKE=1 quick, BENCH_BACKEND=postgres, BENCH_DURATION=…)
	scripts/bench.sh

bench-scale: ## The benchmark after generating 1M sessions + 1M leads, on SQLite then PostgreSQL
	BENCH_SCALE=1 scripts/bench.sh

clean:
	$(CARGO) clean
