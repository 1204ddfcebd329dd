# Usher's developer commands. `make test` is the test command the README
# gives and CI runs.

GO ?= go
# Fuzzing budget in executions, not seconds: with a duration, Go 1.26's fuzz
# coordinator can report its own deadline as a failure ("context deadline
# exceeded", no failing input; go.dev/issue/75804, fixed in Go 1.27).
# 30000 executions take 2-7 s per target on a 2-CPU machine.
FUZZTIME ?= 30000x

.PHONY: run test test-postgres fuzz vet build js-deps bench bench-smoke thunder-suites thunder-suites-selftest swagger-ui swagger-ui-check bench-scale bench-hashing bench-reads

# Usher needs no C: built with CGO_ENABLED=0 the binary is static, links no
# C library, and an idle server keeps about 2 MiB less resident (measured in
# BENCHMARKS.md). Plain `go build` links the system's C library whenever a C
# compiler is installed.
run:
	CGO_ENABLED=0 $(GO) run ./cmd/usher serve

build:
	CGO_ENABLED=0 $(GO) build -o usher ./cmd/usher

vet:
	$(GO) vet ./...

# Every test, with the race detector. PostgreSQL tests run when
# USHER_TEST_POSTGRES holds a DSN (they skip otherwise, and fail in CI).
test: vet js-deps
	$(GO) test -race -count=1 -timeout 30m ./...
	@if [ -n "$$USHER_TEST_POSTGRES" ]; then $(MAKE) --no-print-directory test-postgres; \
	else echo "USHER_TEST_POSTGRES is not set: the end-to-end suites ran on SQLite only."; fi
	$(MAKE) --no-print-directory fuzz
	$(MAKE) --no-print-directory bench-smoke
	@if command -v node >/dev/null; then $(MAKE) --no-print-directory thunder-suites-selftest; \
	elif [ "$$CI" = true ]; then echo "node not found"; exit 1; \
	else echo "node not found: the Thunder suite runner's own tests skip."; fi

# The JavaScript clients that compatibility tests drive (skipped without
# Node.js, except in CI).
JS_CLIENTS = clients/staticbackend clients/thunder
js-deps:
	@if ! command -v npm >/dev/null; then echo "npm not found: the JavaScript client tests will skip."; \
	else for d in $(JS_CLIENTS); do \
		npm ci --silent --no-audit --no-fund --prefix $$d || { \
			if [ "$$CI" = true ]; then exit 1; fi; \
			echo "npm ci failed in $$d (offline?): its client test will skip."; }; \
	done; fi

# The use cases, the surfaces and the end-to-end suites again, on PostgreSQL.
# Without the race detector: the Go code is the SQLite pass's, which ran
# under it; this pass is for what the other engine does differently, and
# the detector's slowdown would take CI past its 20 minutes.
test-postgres:
	USHER_TEST_ENGINE=postgres $(GO) test -count=1 -timeout 30m ./internal/account/... ./internal/api/... ./cmd/usher

# The load harness (a separate module in bench/): the full run writes its
# figures to bench/report.json; see BENCHMARKS.md.
bench:
	cd bench && $(GO) run . -out report.json

# Every harness scenario for a few seconds, failing on any unexpected answer
# (it asserts nothing about speed). Part of `make test`.
bench-smoke:
	cd bench && $(GO) test -count=1 ./...

# A million users (BENCHMARKS.md): the operators mode at 1,000, 100,000 and
# 1,000,000 users imported with pre-hashed passwords into a fresh database,
# on SQLite and on PostgreSQL (SCALE_PG: a server on which a database is
# created and dropped), then one table of every figure.
SCALE_USERS ?= 1000 100000 1000000
SCALE_ENGINES ?= sqlite postgres
SCALE_PG ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
bench-scale:
	cd bench && $(GO) build -o scale-bench . && set -e; for e in $(SCALE_ENGINES); do for n in $(SCALE_USERS); do \
		./scale-bench -mode operators -engine $$e -pg '$(SCALE_PG)' -users $$n -plain 0 -out scale-$$e-$$n.json > scale-$$e-$$n.txt 2>&1 \
			|| { tail -20 scale-$$e-$$n.txt; exit 1; }; \
		echo "$$e $$n: done (load $$(cut -d' ' -f1 /proc/loadavg))"; done; done; \
	python3 scale_summary.py scale-*.json

# The hashing candidates side by side (hash-priority low, idle, normal and
# the previous default), in turn, HASHING_ROUNDS times.
HASHING_ROUNDS ?= 2
bench-hashing:
	cd bench && ./hashing-candidates.sh $(HASHING_ROUNDS)

# Reads with the request log on (as shipped) and off, in turn; BEFORE=<git
# ref> adds that tree's Usher with its log on.
READS_ROUNDS ?= 2
bench-reads:
	cd bench && BEFORE=$(BEFORE) ./reads-compare.sh $(READS_ROUNDS)

# A short run of every fuzz target (go test -fuzz takes one target at a time).
FUZZ_TARGETS = \
	./internal/strictjson:FuzzCheck \
	./internal/api:FuzzDecode \
	./internal/api/thunder:FuzzDecodeUser \
	./internal/account:FuzzNormalizeEmail \
	./internal/account:FuzzNormalizeData \
	./internal/store:FuzzPackHash

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

# Thunder's own end-to-end suites (its scripts/tests, k6 scripts) against a
# fresh usher per suite, with our k6-compatible runner on Node.js (k6 itself
# is not used). THUNDER is a Thunder checkout; SUITES picks some (default:
# all); KEEP_GOING=1 runs every block even after a failed one.
THUNDER ?=
SUITES ?=
thunder-suites:
	@if [ -z "$(THUNDER)" ]; then echo "usage: make thunder-suites THUNDER=path/to/thunder [SUITES='inmemorydb oauth'] [KEEP_GOING=1]"; exit 2; fi
	scripts/thunder-suites/run.sh $(if $(KEEP_GOING),--keep-going) "$(THUNDER)" $(SUITES)

# The runner's own tests (expect and httpx semantics, exit codes).
thunder-suites-selftest:
	node --test scripts/thunder-suites/

# Swagger UI for /swagger is vendored from the npm package swagger-ui-dist
# (internal/api/apidoc/swaggerui/), so building Usher needs no Node.js.
# swagger-ui re-fetches the files (after a version change in
# scripts/swagger-ui.sh and DESIGN.md); swagger-ui-check compares the
# vendored files with the package. Both need npm.
swagger-ui:
	scripts/swagger-ui.sh fetch

swagger-ui-check:
	scripts/swagger-ui.sh check
