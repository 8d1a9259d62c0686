package signaling

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"
	"testing/synctest"
	"time"
)

// miss makes one attempt from addr with an invalid key; false if it was refused.
func miss(th *throttle, addr string) bool {
	done, _, ok := th.attempt(addr)
	if ok {
		done(true)
	}
	return ok
}

func TestThrottleAddresses(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	th := newThrottle(func() time.Time { return now }, shareMisses, shareWindow)
	for i := range shareMisses {
		if !miss(th, "192.0.2.1") {
			t.Fatalf("refused after %d misses", i)
		}
	}
	if miss(th, "192.0.2.1") {
		t.Fatalf("not refused after %d misses", shareMisses)
	}
	if _, retry, _ := th.attempt("192.0.2.1"); retry <= 0 || retry > shareWindow/shareMisses {
		t.Fatalf("retry after %v, want within one refill (%v)", retry, shareWindow/shareMisses)
	}
	if !miss(th, "192.0.2.2") {
		t.Fatal("another address is refused")
	}
	// One more miss is allowed per window/misses.
	now = now.Add(shareWindow / shareMisses)
	if !miss(th, "192.0.2.1") {
		t.Fatal("still refused after the budget refilled by one")
	}
	if miss(th, "192.0.2.1") {
		t.Fatal("not refused again")
	}
	// A refilled address is pruned on the next new address's attempt.
	now = now.Add(2 * shareWindow)
	miss(th, "192.0.2.3")
	if _, ok := th.budgets["192.0.2.1"]; ok || len(th.budgets) != 1 {
		t.Fatalf("budgets after pruning: %v", th.budgets)
	}
}

// TestThrottleConcurrentAttempts checks that attempts under way count against the budget:
// concurrent requests from one address cannot all pass before the first of them missed.
// Valid keys give their attempt back.
func TestThrottleConcurrentAttempts(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	th := newThrottle(func() time.Time { return now }, shareMisses, shareWindow)
	var dones []func(bool)
	for i := range shareMisses {
		done, _, ok := th.attempt("192.0.2.1")
		if !ok {
			t.Fatalf("attempt %d refused", i)
		}
		dones = append(dones, done)
	}
	if _, _, ok := th.attempt("192.0.2.1"); ok {
		t.Fatalf("attempt beyond %d under way accepted", shareMisses)
	}
	for _, done := range dones {
		done(false) // every key was valid
	}
	for i := range shareMisses {
		if !miss(th, "192.0.2.1") {
			t.Fatalf("refused after %d misses following valid attempts", i)
		}
	}
	if miss(th, "192.0.2.1") {
		t.Fatal("valid attempts left misses behind")
	}
}

// TestThrottleFull checks that the throttle remembers at most throttleMaxKeys addresses and
// still throttles a new one when full.
func TestThrottleFull(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	th := newThrottle(func() time.Time { return now }, shareMisses, shareWindow)
	for i := range throttleMaxKeys + 10 {
		miss(th, "a"+strconv.Itoa(i))
	}
	if n := len(th.budgets); n > throttleMaxKeys {
		t.Fatalf("%d addresses remembered, limit %d", n, throttleMaxKeys)
	}
	for range shareMisses {
		miss(th, "new")
	}
	if miss(th, "new") {
		t.Fatal("a new address is not throttled when the map is full")
	}
}

func TestClientAddr(t *testing.T) {
	for _, tt := range []struct{ remote, want string }{
		{"192.0.2.1:5000", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:5000", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:5000", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:5000", "fe80::/64"},
		{"garbage", "garbage"},
	} {
		if got := (&Server{}).clientAddr(&http.Request{RemoteAddr: tt.remote}); got != tt.want {
			t.Errorf("clientAddr(%q) = %q, want %q", tt.remote, got, tt.want)
		}
	}
}

// TestLoginGate: a login that finds loginsAtOnce others being checked waits up to loginWait
// for a turn, then gets errLoginBusy, without hashing anything.
func TestLoginGate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &Server{
			logins:     make(chan struct{}, loginsAtOnce),
			loginAddrs: newThrottle(time.Now, loginAddrMisses, loginAddrWindow),
			loginUsers: newThrottle(time.Now, loginUserMisses, loginUserWindow),
		}
		for range loginsAtOnce {
			s.logins <- struct{}{} // every turn taken
		}
		r := httptest.NewRequest(http.MethodPost, "/api/login", nil)
		start := time.Now()
		if _, err := s.authenticate(r, "alice", "whatever"); !errors.Is(err, errLoginBusy) {
			t.Fatalf("authenticate with every turn taken: %v, want errLoginBusy", err)
		}
		if waited := time.Since(start); waited != loginWait {
			t.Fatalf("waited %v, want %v", waited, loginWait)
		}
		// The refusal was no miss: the address and the username keep their budgets.
		for _, th := range []*throttle{s.loginAddrs, s.loginUsers} {
			if n := len(th.budgets); n != 0 {
				t.Fatalf("%d budgets charged by a refused login", n)
			}
		}
	})
}

// TestTrustedProxies: forwarding headers name the client only when the connection comes from a
// trusted proxy; the client is the nearest forwarded address that is not a trusted proxy.
func TestTrustedProxies(t *testing.T) {
	s := &Server{proxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
	for _, tt := range []struct {
		name, remote string
		headers      map[string]string
		want         string
	}{
		{"direct client forging the header", "203.0.113.5:1000", map[string]string{"X-Forwarded-For": "198.51.100.1"}, "203.0.113.5"},
		{"through the proxy", "10.1.2.3:1000", map[string]string{"X-Forwarded-For": "198.51.100.1"}, "198.51.100.1"},
		{"client prepends a forgery", "10.1.2.3:1000", map[string]string{"X-Forwarded-For": "1.2.3.4, 198.51.100.1"}, "198.51.100.1"},
		{"two trusted hops", "10.1.2.3:1000", map[string]string{"X-Forwarded-For": "198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"Forwarded wins", "10.1.2.3:1000", map[string]string{"Forwarded": `for="[2001:db8::7]:4711";proto=https`, "X-Forwarded-For": "198.51.100.1"}, "2001:db8::/64"},
		{"Forwarded with port", "[::1]:1000", map[string]string{"Forwarded": "for=192.0.2.60:8080"}, "192.0.2.60"},
		{"obfuscated identifier", "10.1.2.3:1000", map[string]string{"Forwarded": "for=_hidden"}, "10.1.2.3"},
		{"proxy without a header", "10.1.2.3:1000", nil, "10.1.2.3"},
	} {
		r := &http.Request{RemoteAddr: tt.remote, Header: http.Header{}}
		for k, v := range tt.headers {
			r.Header.Set(k, v)
		}
		if got := s.clientAddr(r); got != tt.want {
			t.Errorf("%s: client %q, want %q", tt.name, got, tt.want)
		}
	}
}
