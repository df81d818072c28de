# rtpd / rtpget. `make demo` serves a folder and fetches a file from it;
# `make test` is what CI runs.
GO ?= go
BIN := bin

.PHONY: all build demo test cc deps versitygw seaweedfs test-seaweedfs vet fuzz soak bench bench-index bench-throughput bench-hostile bench-load bench-wan bench-fanout test-cpu clean

all: build

# -buildvcs=auto stamps the commit into the binaries (rtpget --version),
# also where GOFLAGS says -buildvcs=false.
build:
	$(GO) build -buildvcs=auto -o $(BIN)/ ./cmd/rtpd ./cmd/rtpget

demo: build
	./contrib/demo.sh

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt needed'; exit 1; }

# The tests run under the race detector, which needs cgo and so a C compiler.
test: vet build cc deps
	$(GO) test -race -count=1 ./...

# The hashing code's other CPU paths: built without assembly (-tags purego:
# outboard's AVX-512 group hashing and crypto/sha256's SHA-NI and AVX2 code
# left out), and switched off at run time through GODEBUG. (urn and outboard
# also rerun their own tests with GODEBUG in every go test.)
test-cpu:
	$(GO) test -count=1 -tags purego ./outboard ./urn
	$(GO) test -count=1 -tags purego -run 'Tree|Verif|Check' ./swarm
	GODEBUG=cpu.avx512f=off,cpu.avx2=off,cpu.sha=off $(GO) test -count=1 -run 'Tree|Verif|Check' ./swarm

cc:
	@command -v gcc >/dev/null || { echo 'installing gcc for go test -race'; \
		$$(test "$$(id -u)" = 0 || echo sudo) apt-get update -qq && \
		$$(test "$$(id -u)" = 0 || echo sudo) apt-get install -y -qq gcc libc6-dev >/dev/null; }

# The Gemini interop tests run molly-brown and openssl s_client; the HTTP
# face's tests run chromium (headless), curl and aria2c. All from Debian:
# each entry is command:package.
DEPS = molly-brown:molly-brown openssl:openssl chromium:chromium curl:curl aria2c:aria2
deps: versitygw
	@missing=; for d in $(DEPS); do command -v $${d%%:*} >/dev/null || missing="$$missing $${d#*:}"; done; \
	test -z "$$missing" || { echo "installing$$missing for the Gemini and HTTP tests"; \
		sudo=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$sudo apt-get update -qq && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; }

# The S3 store's tests and bench/s3get run versitygw, a real S3 server
# (Apache-2.0, Go), at this version: built by go install into GOBIN (or
# GOPATH/bin) when missing or of another version; a few minutes, once.
VERSITYGW_VERSION = v1.8.0
versitygw:
	@gobin=$$($(GO) env GOBIN); test -n "$$gobin" || gobin=$$($(GO) env GOPATH | cut -d: -f1)/bin; \
	have=$$($(GO) version -m "$$gobin/versitygw" 2>/dev/null | awk '$$1 == "mod" { print $$3 }'); \
	test "$$have" = "$(VERSITYGW_VERSION)" || { echo "installing versitygw $(VERSITYGW_VERSION) for the S3 tests (a few minutes, once)"; \
		$(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION); }

# The S3 tests once more, against SeaweedFS instead of versitygw, by hand
# (not in CI, not in `make test`): `weed mini` has a real volume layer
# behind its S3 gateway, and holds both `a` and `a/b` as keys, which
# versitygw's posix backend cannot (internal/s3test). RTP_SEAWEED_BIN names
# the weed binary; without it `make seaweedfs` builds SEAWEEDFS_VERSION
# into GOBIN (or GOPATH/bin), about 20 minutes once: its go.mod has replace
# directives, which go install refuses, so it is built from a module of its
# own, made in a temporary folder, that requires it and copies them.
SEAWEEDFS_VERSION = v0.0.0-20261109003541-7506e5f91cd6
seaweedfs:
	@gobin=$$($(GO) env GOBIN); test -n "$$gobin" || gobin=$$($(GO) env GOPATH | cut -d: -f1)/bin; \
	$(GO) version -m "$$gobin/weed" 2>/dev/null | grep -q "github.com/seaweedfs/seaweedfs[[:space:]]*$(SEAWEEDFS_VERSION)" && exit 0; \
	echo "building SeaweedFS's weed $(SEAWEEDFS_VERSION) into $$gobin (about 20 minutes, once)"; \
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && cd "$$tmp" && \
	gomod=$$($(GO) mod download -json github.com/seaweedfs/seaweedfs@$(SEAWEEDFS_VERSION) | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$$/\1/p') && \
	printf 'module weedbuild\n\n%s\n\n' "$$(grep '^go ' "$$gomod")" >go.mod && \
	awk '/^replace \(/ { b = 1 } b || /^replace [^(]/ { print } /^\)/ { b = 0 }' "$$gomod" >>go.mod && \
	$(GO) get github.com/seaweedfs/seaweedfs/weed@$(SEAWEEDFS_VERSION) && \
	mkdir -p "$$gobin" && $(GO) build -trimpath -o "$$gobin/weed" github.com/seaweedfs/seaweedfs/weed

test-seaweedfs:
	@test -n "$$RTP_SEAWEED_BIN" || $(MAKE) --no-print-directory seaweedfs
	@gobin=$$($(GO) env GOBIN); test -n "$$gobin" || gobin=$$($(GO) env GOPATH | cut -d: -f1)/bin; \
	export RTP_S3_ENGINE=seaweedfs RTP_SEAWEED_BIN=$${RTP_SEAWEED_BIN:-$$gobin/weed}; \
	$(GO) test -count=1 ./s3store && $(GO) test -count=1 -run 'S3' ./cmd/rtpd

# Every fuzz target, as package:Function. CI runs their seed corpora
# (testdata/fuzz/ in each package) as ordinary tests; `make fuzz` fuzzes
# each for FUZZTIME.
FUZZTIME ?= 60s
FUZZ_TARGETS = wire:FuzzReadRequest wire:FuzzReadResponse urn:FuzzParse \
	rtpurl:FuzzParse rtpurl:FuzzParseDial server:FuzzSession gemini:FuzzServeGemini \
	outboard:FuzzTree collection:FuzzParse
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t#*:}; echo "== ./$$pkg $$fn for $(FUZZTIME)"; \
		$(GO) test ./$$pkg -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) || exit 1; \
	done

# Longer runs of the hardening scenarios: the crash, full-disk and disk-fault
# tests five times over, then the load and hostile benchmarks at full size,
# then rtpd serving a folder a writer keeps changing while rtpget clients
# download from it (bench/soak/README.md), for SOAK_DURATION.
SOAK_DURATION ?= 10m
soak: build cc
	$(GO) test -race -count=5 -run 'Kill9|FullDisk|Truncated|AllKilled|OneKilled' ./cmd/rtpd ./cmd/rtpget
	$(GO) run ./bench/load
	$(GO) run ./bench/hostile -duration 2m
	$(GO) run ./bench/soak -bin $(BIN) -duration $(SOAK_DURATION)

bench: bench-index bench-throughput bench-hostile bench-load

bench-index:
	$(GO) run ./bench/indexrate
	$(GO) run ./bench/smallfiles

bench-throughput:
	$(GO) run ./bench/throughput

bench-hostile:
	$(GO) run ./bench/hostile

bench-load:
	$(GO) run ./bench/load

# rtpget, curl and aria2c over emulated WAN links (bench/wanbench/README.md),
# as root; hours for the whole matrix: make bench-wan WANBENCH_FLAGS=-quick
# for a smoke run, WANBENCH_FLAGS=-plan for what would run and how long.
WANBENCH_FLAGS ?=
bench-wan:
	$(GO) run ./bench/wanbench $(WANBENCH_FLAGS)

# One origin over an S3 bucket behind a 200 Mbit/s link, 4 edges, 4
# clients behind each, all fetching one 1 GiB object, then the same clients
# from the origin directly (bench/fanout/README.md), as root; about 15 minutes.
FANOUT_FLAGS ?=
bench-fanout: versitygw
	$(GO) run ./bench/fanout $(FANOUT_FLAGS)

clean:
	rm -rf $(BIN)

# Man pages made from the CLI definitions (internal/mangen), not committed:
# man -l docs/man/rtpget.1
.PHONY: man
man:
	@mkdir -p docs/man
	$(GO) run -tags man ./cmd/rtpd >docs/man/rtpd.1.tmp && mv docs/man/rtpd.1.tmp docs/man/rtpd.1
	$(GO) run -tags man ./cmd/rtpget >docs/man/rtpget.1.tmp && mv docs/man/rtpget.1.tmp docs/man/rtpget.1

# The plot in BENCHMARKS.md from a bench/swarm/run.sh results folder with the
# scenarios N1..N4 (see bench/plot/plot.sh): make plot RESULTS=/tmp/swarm-n
.PHONY: plot
plot:
	@test -n "$(RESULTS)" || { echo 'make plot RESULTS=DIR (a bench/swarm/run.sh results folder)'; exit 2; }
	bench/plot/plot.sh $(RESULTS) bench/plot/swarm-servers.png
