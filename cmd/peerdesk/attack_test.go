package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"peerdesk/client"
	"peerdesk/relay/demo"
	"peerdesk/signaling/proto"
)

// The adversarial tests of issue 11 (attacks_test.go) run each attack against one scene: a live
// session whose owner and a read-only guest watch a desktop that changes ten times a second,
// on a server that trusts 127.0.0.1 as its reverse proxy, so that an attacker naming itself in
// X-Forwarded-For is a client address of its own (the documentation ranges are only header
// values here: nothing is sent to them). Each attack floods for the whole measurement window;
// the test asserts that the owner and the guest kept ≥ 0.9 of their frame rate before the
// attack, that the agent never reconnected, that the attacker saw its error, and that the
// process's live heap grew by less than the attack's bound.
const (
	attackFPS    = 10
	attackWindow = 3 * time.Second
	minRateRatio = 0.9
)

// attackScene is the session under attack.
type attackScene struct {
	h            *harness
	cookie       string // the admin's (the owner's) login
	owner, guest *client.Session
	linkURL, key string
}

// attackTURN is the embedded TURN server of the scenes that need one: UDP and TCP on loopback.
var attackTURN = turnFlags{udp: "127.0.0.1:0", tcp: "127.0.0.1:0", ttl: loopbackTURN.ttl, allow: "127.0.0.1/32"}

// newAttackScene starts the scene; tweak, if not nil, changes the harness's configuration.
func newAttackScene(t *testing.T, tweak func(*harnessConfig)) *attackScene {
	t.Helper()
	cfg := harnessConfig{demo: demo.Config{Width: 320, Height: 240, FPS: attackFPS}, proxies: "127.0.0.1"}
	if tweak != nil {
		tweak(&cfg)
	}
	h := newHarness(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sc := &attackScene{h: h, cookie: h.login(ctx)}
	sc.owner = h.join(ctx, client.WithoutImageDecoding())
	watch := h.newProfile(ctx, sc.cookie, "Watch", true)
	_, sc.linkURL = h.shareLink(ctx, sc.cookie, sc.owner, watch.ID)
	sc.key = sc.linkURL[strings.LastIndex(sc.linkURL, "/s/")+3:]
	sc.guest = h.guest(ctx, sc.linkURL, client.WithoutImageDecoding())
	if err := sc.guest.WaitFrames(ctx, 5); err != nil {
		t.Fatal(err)
	}
	return sc
}

// rates counts the FRAMEs the owner and the guest receive over attackWindow, per second.
func (sc *attackScene) rates() (owner, guest float64) {
	o, g := sc.owner.Frames(), sc.guest.Frames()
	time.Sleep(attackWindow) // a measurement window, not a wait for an event
	return float64(sc.owner.Frames()-o) / attackWindow.Seconds(), float64(sc.guest.Frames()-g) / attackWindow.Seconds()
}

// liveHeap returns the live heap after a collection.
func liveHeapBytes() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// attack is one attack: run floods until ctx ends and returns what the attacker saw that it
// should not have (nil if it got its clear error or close every time); bound is how much the
// live heap may grow through it.
type attack struct {
	bound uint64
	run   func(ctx context.Context, sc *attackScene) error
}

// under runs a against the scene and checks that the session did not notice.
func (sc *attackScene) under(t *testing.T, a attack) {
	t.Helper()
	baseOwner, baseGuest := sc.rates()
	heap := liveHeapBytes()
	connects := sc.h.agent.Stats().Connects
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result := make(chan error, 1)
	go func() { result <- a.run(ctx, sc) }()
	owner, guest := sc.rates()
	cancel()
	var err error
	select {
	case err = <-result:
	case <-time.After(20 * time.Second):
		t.Fatal("the attack did not stop within 20 s of being told to")
	}
	grown := int64(liveHeapBytes()) - int64(heap)
	t.Logf("owner %.1f → %.1f FRAMEs/s, guest %.1f → %.1f; live heap %+.1f MiB (bound %d MiB)",
		baseOwner, owner, baseGuest, guest, float64(grown)/(1<<20), a.bound>>20)
	if err != nil {
		t.Errorf("attacker: %v", err)
	}
	if owner < minRateRatio*baseOwner || guest < minRateRatio*baseGuest {
		t.Errorf("under attack the owner got %.1f FRAMEs/s (%.1f before), the guest %.1f (%.1f before)", owner, baseOwner, guest, baseGuest)
	}
	if baseOwner < attackFPS/2 || baseGuest < attackFPS/2 {
		t.Errorf("before the attack the owner got %.1f FRAMEs/s, the guest %.1f: the desktop makes %d", baseOwner, baseGuest, attackFPS)
	}
	if n := sc.h.agent.Stats().Connects; n != connects {
		t.Errorf("the agent reconnected %d times during the attack", n-connects)
	}
	if grown > int64(a.bound) {
		t.Errorf("the live heap grew by %d MiB, bound %d MiB", grown>>20, a.bound>>20)
	}
}

// attacker is a raw signaling socket on the scene's share link, from client address addr.
type attacker struct {
	ws    *websocket.Conn
	hello proto.Message
	done  chan struct{} // closed when the server closed the socket

	mu        sync.Mutex
	codes     []string // error codes received
	closeCode int
}

// errRefused reports the HTTP status a socket's handshake was refused with.
type errRefused int

func (e errRefused) Error() string { return fmt.Sprintf("handshake refused with HTTP %d", int(e)) }

// dial opens a peer socket on the share link as addr; the attacker reads it until it closes.
func (sc *attackScene) dial(ctx context.Context, addr string) (*attacker, error) {
	return sc.dialKey(ctx, addr, sc.key)
}

// dialKey opens a peer socket with share key key as addr.
func (sc *attackScene) dialKey(ctx context.Context, addr, key string) (*attacker, error) {
	u, _ := url.Parse(sc.h.url)
	u.Scheme, u.Path, u.RawQuery = "ws", "/ws/peer", url.Values{"share": {key}}.Encode()
	ws, resp, err := websocket.DefaultDialer.DialContext(ctx, u.String(), http.Header{"X-Forwarded-For": {addr}})
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if resp != nil {
			return nil, errRefused(resp.StatusCode)
		}
		return nil, err
	}
	ws.SetReadLimit(proto.MaxMessage)
	a := &attacker{ws: ws, done: make(chan struct{})}
	_, b, err := ws.ReadMessage()
	if err == nil {
		a.hello, err = proto.Decode(b)
	}
	if err != nil || a.hello.Type != proto.TypeHello {
		_ = ws.Close()
		return nil, fmt.Errorf("no hello: %v %+v", err, a.hello)
	}
	go a.read()
	return a, nil
}

func (a *attacker) read() {
	defer close(a.done)
	for {
		_, b, err := a.ws.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			a.mu.Lock()
			a.closeCode = ce.Code
			a.mu.Unlock()
		}
		if err != nil {
			return
		}
		if m, err := proto.Decode(b); err == nil && m.Type == proto.TypeError {
			a.mu.Lock()
			a.codes = append(a.codes, m.Code)
			a.mu.Unlock()
		}
	}
}

// send writes m; it fails once the server closed the socket.
func (a *attacker) send(m proto.Message) error {
	_ = a.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return a.ws.WriteMessage(websocket.TextMessage, m.Encode())
}

// closed waits until the server closed the socket (at most 5 s) and returns the error codes it
// sent and its close code; it closes the socket.
func (a *attacker) closed() (codes []string, closeCode int, ok bool) {
	select {
	case <-a.done:
		ok = true
	case <-time.After(5 * time.Second):
	}
	_ = a.ws.Close()
	<-a.done
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.codes, a.closeCode, ok
}

// hangUp closes the socket from the attacker's side.
func (a *attacker) hangUp() {
	_ = a.ws.Close()
	<-a.done
}

// expectRateLimited checks that the server told the attacker rate-limited and closed it with
// 1008 (policy violation).
func (a *attacker) expectRateLimited() error {
	codes, code, ok := a.closed()
	if !ok || code != websocket.ClosePolicyViolation || len(codes) == 0 || codes[len(codes)-1] != proto.CodeRateLimited {
		return fmt.Errorf("closed %v with code %d after errors %v, want rate-limited and 1008", ok, code, codes)
	}
	return nil
}

// address returns the n-th attacker address of a documentation range (TEST-NET-2).
func address(n int) string { return fmt.Sprintf("198.51.%d.%d", 100+n/250%10, n%250+1) }
