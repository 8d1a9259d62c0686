package turn

import (
	"errors"
	"net"
	"strconv"
	"testing"
	"time"
)

func TestCredentialsRoundTrip(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c, err := NewCredentials(testSecret, 0, []string{"turn:127.0.0.1:3478?transport=udp"}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	ice, exp := c.ICEServers("peer-a:b")
	if want := "1800000600:peer-a_b"; ice[0].Username != want || !exp.Equal(now.Add(DefaultTTL)) {
		t.Fatalf("username %q expiring %v, want %q at +10m", ice[0].Username, exp, want)
	}
	if ice[0].Credential != Password([]byte(testSecret), ice[0].Username) {
		t.Fatal("password is not the HMAC of the username")
	}
	for _, bad := range []struct {
		secret string
		ttl    time.Duration
		urls   []string
	}{
		{"short", 0, []string{"turn:x"}},
		{testSecret, time.Second, []string{"turn:x"}},
		{testSecret, 0, nil},
		{testSecret, 0, []string{"stun:x"}},
	} {
		if _, err := NewCredentials(bad.secret, bad.ttl, bad.urls, nil); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("NewCredentials(%q, %v, %v) = %v, want ErrInvalidConfig", bad.secret, bad.ttl, bad.urls, err)
		}
	}
}

func TestParseUsername(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	at := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }
	const grace = 10 * time.Minute // an allocation's upkeep: one credential lifetime
	cases := []struct {
		user  string
		grace time.Duration
		want  error
	}{
		{at(time.Minute) + ":peer-x", 0, nil},
		{at(-time.Minute) + ":peer-x", 0, errExpired},
		{at(-time.Minute) + ":peer-x", grace, nil}, // refreshing an allocation it made
		{at(-grace+time.Second) + ":peer-x", grace, nil},
		{at(-grace-time.Second) + ":peer-x", grace, errExpired}, // one TTL after expiry, no more
		{at(-30*24*time.Hour) + ":peer-x", grace, errExpired},
		{at(24*time.Hour+time.Minute) + ":peer-x", 0, errFutureDated},
		{at(24*time.Hour+time.Minute) + ":peer-x", grace, errFutureDated},
		{"peer-x", 0, errMalformed},
		{at(time.Minute) + ":", 0, errMalformed},
		{at(time.Minute) + ":a:b", 0, errMalformed},
		{"-5:peer-x", 0, errMalformed},
		{"99999999999999999999:peer-x", 0, errMalformed},
	}
	for _, tc := range cases {
		if _, err := parseUsername(tc.user, now, DefaultMaxTTL, tc.grace); !errors.Is(err, tc.want) {
			t.Errorf("parseUsername(%q, grace %v) = %v, want %v", tc.user, tc.grace, err, tc.want)
		}
	}
}

// TestAllocationQuota: a peer identity gets at most PeerQuota.Allocations relays at once;
// closing one frees its place.
func TestAllocationQuota(t *testing.T) {
	s := startServer(t, "127.0.0.1:0", "127.0.0.1", nil)
	for range DefaultPeerQuota.Allocations {
		allocate(t, s, "peer-greedy")
	}
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, _, err := tryAllocateOver(t, s, conn, s.UDPAddr().String(), "peer-greedy"); err == nil {
		t.Fatalf("allocation %d of one identity succeeded", DefaultPeerQuota.Allocations+1)
	}
	if n := s.Allocations(); n != DefaultPeerQuota.Allocations {
		t.Fatalf("%d allocations, want %d", n, DefaultPeerQuota.Allocations)
	}
	allocate(t, s, "peer-other")
	if n := s.Allocations(); n != DefaultPeerQuota.Allocations+1 {
		t.Fatalf("another identity: %d allocations, want %d", n, DefaultPeerQuota.Allocations+1)
	}
}
