package signaling

import (
	"net/http"
	"net/netip"
	"testing"
)

// FuzzRemoteIP checks that the client address of a request from a trusted proxy, read from
// the Forwarded and X-Forwarded-For headers any client may fill, is always an IP address
// (unmapped, without zone), and that reading it never panics.
func FuzzRemoteIP(f *testing.F) {
	f.Add(`for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711"`, "203.0.113.195, 70.41.3.18")
	f.Add(`for=unknown, for=_hidden`, " , ,")
	f.Add(`for="`, "::ffff:10.0.0.1%eth0")
	f.Add("", "10.0.0.1, 127.0.0.1")
	s := &Server{proxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	f.Fuzz(func(t *testing.T, forwarded, xff string) {
		r := &http.Request{RemoteAddr: "127.0.0.1:5000", Header: http.Header{}}
		if forwarded != "" {
			r.Header.Set("Forwarded", forwarded)
		}
		r.Header.Set("X-Forwarded-For", xff)
		got := s.remoteIP(r)
		ip, err := netip.ParseAddr(got)
		if err != nil || ip.Zone() != "" || ip.Is4In6() {
			t.Fatalf("Forwarded %q, X-Forwarded-For %q: client %q", forwarded, xff, got)
		}
	})
}
