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
	budgets   map[string]*budget
	lastPrune time.Time
}

// budget is one address's misses: refilled over time, less the attempts under way.
type budget struct {
	misses   *rate.Limiter
	inFlight int // attempts whose keys are being looked up
}

func newThrottle(now func() time.Time) *throttle {
	return &throttle{now: now, budgets: make(map[string]*budget)}
}

// attempt starts a share attempt from addr, counting it as a possible miss until it is
// done, so that concurrent attempts from one address cannot all pass before any of them has
// failed. It reports false if addr has no miss left; otherwise the caller calls done once it
// knows whether the key was invalid (missed).
func (t *throttle) attempt(addr string) (done func(missed bool), ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	b := t.budgets[addr]
	if b == nil {
		t.prune(now)
		b = &budget{misses: rate.NewLimiter(rate.Every(throttleWindow/throttleMisses), throttleMisses)}
		t.budgets[addr] = b
	}
	if b.misses.TokensAt(now)-float64(b.inFlight) < 1 {
		return nil, false
	}
	b.inFlight++
	return func(missed bool) {
		t.mu.Lock()
		defer t.mu.Unlock()
		b.inFlight--
		if missed {
			b.misses.AllowN(t.now(), 1)
		}
	}, true
}

// prune forgets the addresses whose budget has refilled and that have no attempt under way:
// they are as good as new. It looks for them once a window, or once per refill of one miss
// while the map is full (not at every new address: a scan of a full map is costly). If the
// map is still full, arbitrary addresses are forgotten. Callers hold t.mu.
func (t *throttle) prune(now time.Time) {
	full := len(t.budgets) >= throttleMaxAddrs
	if since := now.Sub(t.lastPrune); since >= throttleWindow || full && since >= throttleWindow/throttleMisses {
		t.lastPrune = now
		for addr, b := range t.budgets {
			if b.inFlight == 0 && b.misses.TokensAt(now) >= throttleMisses {
				delete(t.budgets, addr)
			}
		}
	}
	for addr := range t.budgets {
		if len(t.budgets) < throttleMaxAddrs {
			break
		}
		delete(t.budgets, addr)
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
