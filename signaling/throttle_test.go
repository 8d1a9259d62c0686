package signaling

import (
	"net/http"
	"testing"
	"time"
)

func TestThrottleAddresses(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	th := newThrottle(func() time.Time { return now })
	for i := range throttleMisses {
		if th.blocked("192.0.2.1") {
			t.Fatalf("blocked after %d misses", i)
		}
		th.miss("192.0.2.1")
	}
	if !th.blocked("192.0.2.1") {
		t.Fatalf("not blocked after %d misses", throttleMisses)
	}
	if th.blocked("192.0.2.2") {
		t.Fatal("another address is blocked")
	}
	// One more miss is allowed per window/misses.
	now = now.Add(throttleWindow / throttleMisses)
	if th.blocked("192.0.2.1") {
		t.Fatal("still blocked after the budget refilled by one")
	}
	th.miss("192.0.2.1")
	if !th.blocked("192.0.2.1") {
		t.Fatal("not blocked again")
	}
	// A refilled address is pruned on the next new address's miss.
	now = now.Add(2 * throttleWindow)
	th.miss("192.0.2.3")
	if _, ok := th.limiters["192.0.2.1"]; ok || len(th.limiters) != 1 {
		t.Fatalf("limiters after pruning: %v", th.limiters)
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
