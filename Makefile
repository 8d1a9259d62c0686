# peerdesk — `make run` starts the demo, `make test` runs every test (installing what it needs).
GO       ?= go
BIN      := bin/peerdesk
E2E      := web/e2e
APT_PKGS := chromium iproute2 fonts-liberation xvfb x11vnc tigervnc-standalone-server tigervnc-tools xdotool xterm xfonts-base x11-apps x11-xserver-utils imagemagick xclip coturn

.PHONY: run build test deps check bench bench-deps fuzz clean

run: build
	./$(BIN) demo

build:
	$(GO) build -o $(BIN) ./cmd/peerdesk

# deps installs what the tests need on a fresh machine: Debian's Chromium and playwright-core.
deps:
	@which chromium ip tc Xvfb x11vnc Xtigervnc vncpasswd xdotool xterm xsetroot xrandr import xclip turnutils_uclient turnutils_peer >/dev/null 2>&1 || { \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_PKGS); }
	@[ -d $(E2E)/node_modules/playwright-core ] || (cd $(E2E) && npm ci --no-audit --no-fund)

# check: formatting and vet, fast failures before the long test run.
check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

# The thin-link test runs `peerdesk demo` built without the race detector (PEERDESK_BIN).
test: deps check build
	cd $(E2E) && node --test
	PEERDESK_BIN=$(CURDIR)/$(BIN) $(GO) test -race -count=1 -timeout 20m ./...

# bench-deps adds what only the benchmarks use: ffplay plays the thin-link benchmark's video.
bench-deps:
	@which ffplay >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg; }

# bench runs the benchmarks whose figures docs/BENCHMARKS.md records (PEERDESK_GUACD=path/guacd
# adds guacd beside peerdesk on the thin links).
bench: deps bench-deps
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./cmd/peerdesk/ ./relay/pipeline/

# fuzz runs each fuzz target briefly.
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecodeDisplay -fuzztime 30s ./relay/wire/
	$(GO) test -run '^$$' -fuzz FuzzDecodeInput -fuzztime 30s ./relay/wire/
	$(GO) test -run '^$$' -fuzz FuzzDecodeConsumed -fuzztime 30s ./relay/wire/
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 30s ./signaling/proto/
	$(GO) test -run '^$$' -fuzz FuzzServerMessages -fuzztime 30s ./relay/vnc/

clean:
	rm -rf bin
