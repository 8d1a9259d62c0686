# peerdesk — `make run` starts the demo, `make test` runs every test (installing what it needs).
GO       ?= go
BIN      := bin/peerdesk
E2E      := web/e2e
APT_PKGS := postgresql chromium iproute2 fonts-liberation xvfb x11vnc tigervnc-standalone-server tigervnc-tools xdotool xterm xfonts-base x11-apps x11-xserver-utils imagemagick xclip coturn

.PHONY: run build build-deps test deps check bench bench-deps fuzz fuzz-long clean cluster

run: build
	./$(BIN) demo

build: build-deps
	$(GO) build -o $(BIN) ./cmd/peerdesk

# cluster runs three serve nodes on one PostgreSQL and one NATS, with a demo agent, on this
# machine (cmd/peerdesk-cluster); Ctrl-C stops it all.
cluster: deps build
	$(GO) build -o bin/peerdesk-cluster ./cmd/peerdesk-cluster
	./bin/peerdesk-cluster -bin $(BIN)

# build-deps installs the C libraries the agent's encoders and the Go peer's video decoder bind
# (cgo): libwebp, libjpeg-turbo and libvpx, from Debian.
BUILD_PKGS := pkg-config libwebp-dev libturbojpeg0-dev libvpx-dev
build-deps:
	@pkg-config --exists libwebp libturbojpeg vpx 2>/dev/null || { \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(BUILD_PKGS); }

# deps installs what the tests need on a fresh machine: Debian's Chromium and playwright-core.
deps: build-deps
	@which chromium ip tc Xvfb x11vnc Xtigervnc vncpasswd xdotool xterm xsetroot xrandr import xclip turnutils_uclient turnutils_peer >/dev/null 2>&1 && \
		ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_PKGS); }
	@[ -d $(E2E)/node_modules/playwright-core ] || (cd $(E2E) && npm ci --no-audit --no-fund)

# check: formatting and vet, fast failures before the long test run.
check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

# The thin-link test runs `peerdesk demo` built without the race detector (PEERDESK_BIN).
# Packages run one at a time (-p 1): their real-time tests (ICE restarts, VNC servers, video)
# must not share two cores with another package's floods of connections and encodes.
# The store's tests run a second time on a PostgreSQL server they start (internal/testpg).
test: deps check build
	cd $(E2E) && node --test
	PEERDESK_BIN=$(CURDIR)/$(BIN) $(GO) test -race -count=1 -p 1 -timeout 20m ./...
	PEERDESK_TEST_DB=postgres $(GO) test -race -count=1 -timeout 5m ./store

# bench-deps adds what only the benchmarks use: ffplay plays the thin-link benchmark's video.
bench-deps:
	@which ffplay >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg; }

# bench runs the benchmarks whose figures docs/BENCHMARKS.md records (PEERDESK_GUACD=path/guacd
# adds guacd beside peerdesk on the thin links).
bench: deps bench-deps
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./cmd/peerdesk/ ./relay/pipeline/

# Every fuzz target, as package:Target: each decoder of untrusted bytes (signaling messages,
# data-channel messages, RFB, TURN usernames, forwarding headers, ICE candidates, the Go
# client's framebuffer).
FUZZ_TARGETS := ./signaling/proto:FuzzDecode ./signaling:FuzzRemoteIP ./signaling/turn:FuzzParseUsername \
	./relay/wire:FuzzDecodeDisplay ./relay/wire:FuzzDecodeInput ./relay/wire:FuzzDecodePeerDisplay \
	./relay/wire:FuzzDecodeControl ./relay:FuzzCheckCandidate ./relay/vnc:FuzzServerMessages \
	./client:FuzzFramebuffer ./internal/recfile:FuzzReader

# fuzz runs each fuzz target briefly; fuzz-long runs each for FUZZ_EXECS executions (the
# campaign docs/SECURITY.md records; hours on a 2-core machine, not part of CI).
FUZZ_TIME ?= 30s
FUZZ_EXECS ?= 10000000
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "== $$t"; $(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZ_TIME) "$${t%%:*}" || exit 1; \
	done
fuzz-long:
	$(MAKE) fuzz FUZZ_TIME=$(FUZZ_EXECS)x

clean:
	rm -rf bin
