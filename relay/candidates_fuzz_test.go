package relay

import (
	"net/netip"
	"testing"

	"github.com/pion/ice/v4"
)

// FuzzCheckCandidate checks that checkCandidate, which reads every candidate a peer names (in
// its offer or trickled), never panics, and that a strict agent accepts only candidates that
// parse and name a routable address or an mDNS name.
func FuzzCheckCandidate(f *testing.F) {
	f.Add("candidate:1 1 udp 2130706431 203.0.113.7 50000 typ host")
	f.Add("candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host")
	f.Add("candidate:2 1 tcp 1 ::ffff:169.254.169.254 9 typ srflx raddr 0.0.0.0 rport 0 tcptype passive")
	f.Add("candidate:3 1 udp 1 3c6e1f0a-1b2c-4d5e-8f90-123456789abc.local 9 typ host")
	f.Add("candidate:\x1b]0;x\x07 1 udp 1 1.2.3.4 9 typ host")
	strict := &Agent{}
	f.Fuzz(func(t *testing.T, s string) {
		if strict.checkCandidate(s) != nil {
			return
		}
		c, err := ice.UnmarshalCandidate(s)
		if err != nil {
			t.Fatalf("accepted %q, which does not parse: %v", s, err)
		}
		ip, err := netip.ParseAddr(c.Address())
		if err != nil {
			return // an mDNS name, checked by checkCandidate
		}
		ip = ip.Unmap()
		if ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsMulticast() || ip.IsUnspecified() {
			t.Fatalf("accepted %q naming %v", s, ip)
		}
	})
}
