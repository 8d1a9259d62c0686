package signaling

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits of the share-link throttle: an address may miss throttleMisses times in a row, then
// one more time every throttleWindow/throttleMisses.
const (
	throttleMisses   = 10
	throttleWindow   = time.Minute
	throttleMaxAddrs = 1 << 16 // addresses remembered at most
)

// throttle counts the invalid share keys each client address tries, so that guessing keys
// costs time: an address that used up its misses is refused every share attempt, valid or
// not, until its budget refills. Other addresses are unaffected.
type throttle struct {
	now func() time.Time

	mu        sync.Mutex
	limiters  map[string]*rate.Limiter
	lastPrune time.Time
}

func newThrottle(now func() time.Time) *throttle {
	return &throttle{now: now, limiters: make(map[string]*rate.Limiter)}
}

// blocked reports whether addr has no miss left.
func (t *throttle) blocked(addr string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.limiters[addr]
	return l != nil && l.TokensAt(t.now()) < 1
}

// miss records an invalid share key tried from addr.
func (t *throttle) miss(addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	l := t.limiters[addr]
	if l == nil {
		t.prune(now)
		l = rate.NewLimiter(rate.Every(throttleWindow/throttleMisses), throttleMisses)
		t.limiters[addr] = l
	}
	l.AllowN(now, 1)
}

// prune forgets, at most once a window or when the map is full, the addresses whose budget
// has refilled: they are as good as new. If the map is still full, an arbitrary address is
// forgotten. Callers hold t.mu.
func (t *throttle) prune(now time.Time) {
	if now.Sub(t.lastPrune) < throttleWindow && len(t.limiters) < throttleMaxAddrs {
		return
	}
	t.lastPrune = now
	for addr, l := range t.limiters {
		if l.TokensAt(now) >= throttleMisses {
			delete(t.limiters, addr)
		}
	}
	for addr := range t.limiters {
		if len(t.limiters) < throttleMaxAddrs {
			break
		}
		delete(t.limiters, addr)
	}
}

// clientAddr is the address a request is throttled by: its remoteIP, IPv6 addresses cut to
// their /64, which one client usually owns.
func clientAddr(r *http.Request) string {
	addr := remoteIP(r)
	ip, err := netip.ParseAddr(addr)
	if err != nil || !ip.Is6() {
		return addr
	}
	p, _ := ip.Prefix(64) // never fails for an IPv6 address
	return p.String()
}

// remoteIP is the client's IP address as the connection shows it: the host of RemoteAddr
// (proxy headers are not trusted), IPv4-mapped addresses unmapped, without zone; RemoteAddr's
// host as is if it is no IP address.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	return ip.Unmap().WithZone("").String()
}
