package signaling

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// miss makes one attempt from addr with an invalid key; false if it was refused.
func miss(th *throttle, addr string) bool {
	done, ok := th.attempt(addr)
	if ok {
		done(true)
	}
	return ok
}

func TestThrottleAddresses(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	th := newThrottle(func() time.Time { return now })
	for i := range throttleMisses {
		if !miss(th, "192.0.2.1") {
			t.Fatalf("refused after %d misses", i)
		}
	}
	if miss(th, "192.0.2.1") {
		t.Fatalf("not refused after %d misses", throttleMisses)
	}
	if !miss(th, "192.0.2.2") {
		t.Fatal("another address is refused")
	}
	// One more miss is allowed per window/misses.
	now = now.Add(throttleWindow / throttleMisses)
	if !miss(th, "192.0.2.1") {
		t.Fatal("still refused after the budget refilled by one")
	}
	if miss(th, "192.0.2.1") {
		t.Fatal("not refused again")
	}
	// A refilled address is pruned on the next new address's attempt.
	now = now.Add(2 * throttleWindow)
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
	th := newThrottle(func() time.Time { return now })
	var dones []func(bool)
	for i := range throttleMisses {
		done, ok := th.attempt("192.0.2.1")
		if !ok {
			t.Fatalf("attempt %d refused", i)
		}
		dones = append(dones, done)
	}
	if _, ok := th.attempt("192.0.2.1"); ok {
		t.Fatalf("attempt beyond %d under way accepted", throttleMisses)
	}
	for _, done := range dones {
		done(false) // every key was valid
	}
	for i := range throttleMisses {
		if !miss(th, "192.0.2.1") {
			t.Fatalf("refused after %d misses following valid attempts", i)
		}
	}
	if miss(th, "192.0.2.1") {
		t.Fatal("valid attempts left misses behind")
	}
}

// TestThrottleFull checks that the throttle remembers at most throttleMaxAddrs addresses and
// still throttles a new one when full.
func TestThrottleFull(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	th := newThrottle(func() time.Time { return now })
	for i := range throttleMaxAddrs + 10 {
		miss(th, "a"+strconv.Itoa(i))
	}
	if n := len(th.budgets); n > throttleMaxAddrs {
		t.Fatalf("%d addresses remembered, limit %d", n, throttleMaxAddrs)
	}
	for range throttleMisses {
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
		if got := clientAddr(&http.Request{RemoteAddr: tt.remote}); got != tt.want {
			t.Errorf("clientAddr(%q) = %q, want %q", tt.remote, got, tt.want)
		}
	}
}
