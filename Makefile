# rtpd / rtpget. `make demo` serves a folder and fetches a file from it;
# `make test` is what CI runs.
GO ?= go
BIN := bin

.PHONY: all build demo test vet race fuzz bench bench-index bench-throughput bench-hostile clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/rtpd ./cmd/rtpget

demo: build
	./contrib/demo.sh

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt needed'; exit 1; }

test: vet build
	$(GO) test -count=1 ./...

race:
	$(GO) test -race -count=1 ./...

FUZZTIME ?= 60s
fuzz:
	$(GO) test ./wire -run '^$$' -fuzz FuzzReadRequest -fuzztime $(FUZZTIME)
	$(GO) test ./wire -run '^$$' -fuzz FuzzReadResponse -fuzztime $(FUZZTIME)
	$(GO) test ./urn -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)
	$(GO) test ./rtpurl -run '^$$' -fuzz 'FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./rtpurl -run '^$$' -fuzz FuzzParseDial -fuzztime $(FUZZTIME)

bench: bench-index bench-throughput bench-hostile

bench-index:
	$(GO) run ./bench/indexrate

bench-throughput:
	$(GO) run ./bench/throughput

bench-hostile:
	$(GO) run ./bench/hostile

clean:
	rm -rf $(BIN)
