package turn

import (
	"net"
	"net/netip"
)

// deniedPrefixes are the peer addresses the server never relays to unless allow-listed:
// loopback, unspecified, private, shared, link-local (cloud metadata at 169.254.169.254
// included), multicast and reserved ranges of IPv4 and IPv6. IPv4-mapped IPv6 addresses
// are unmapped before the check; NAT64 addresses are checked by the IPv4 address they embed.
var deniedPrefixes = mustPrefixes(
	// IPv4
	"0.0.0.0/8",       // "this network", unspecified
	"10.0.0.0/8",      // private
	"100.64.0.0/10",   // shared address space (carrier-grade NAT)
	"127.0.0.0/8",     // loopback
	"169.254.0.0/16",  // link-local, cloud metadata
	"172.16.0.0/12",   // private
	"192.0.0.0/24",    // IETF protocol assignments
	"192.0.2.0/24",    // documentation
	"192.88.99.0/24",  // 6to4 relay anycast (deprecated)
	"192.168.0.0/16",  // private
	"198.18.0.0/15",   // benchmarking
	"198.51.100.0/24", // documentation
	"203.0.113.0/24",  // documentation
	"224.0.0.0/4",     // multicast
	"240.0.0.0/4",     // reserved, and 255.255.255.255 broadcast
	// IPv6
	"::/128",        // unspecified
	"::1/128",       // loopback
	"::/96",         // IPv4-compatible (deprecated)
	"100::/64",      // discard-only
	"2001::/23",     // IETF protocol assignments (Teredo, ORCHIDv2, ...)
	"2001:db8::/32", // documentation
	"2002::/16",     // 6to4: embeds arbitrary IPv4 addresses
	"fc00::/7",      // unique local (private)
	"fe80::/10",     // link-local
	"fec0::/10",     // site-local (deprecated)
	"ff00::/8",      // multicast
)

// nat64 is the well-known NAT64 prefix; its addresses reach the IPv4 address in their low bits.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

func mustPrefixes(ss ...string) []netip.Prefix {
	ps := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		ps[i] = netip.MustParsePrefix(s)
	}
	return ps
}

// relayPolicy decides which peer addresses a client may create permissions for.
type relayPolicy struct {
	allow []netip.Prefix
	own   map[netip.Addr]bool // the server's own addresses
}

// permit reports whether the server may relay to ip: an allow-listed address always, else
// none of the denied ranges and none of the server's own addresses.
func (p *relayPolicy) permit(ip net.IP) bool {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, pr := range p.allow {
		if pr.Contains(a) {
			return true
		}
	}
	if a.Is6() && nat64.Contains(a) {
		b := a.As16()
		a = netip.AddrFrom4([4]byte(b[12:]))
	}
	if p.own[a] {
		return false
	}
	for _, pr := range deniedPrefixes {
		if pr.Contains(a) {
			return false
		}
	}
	return true
}

// handler adapts permit to pion's PermissionHandler.
func (p *relayPolicy) handler(_ net.Addr, peer net.IP) bool { return p.permit(peer) }

// ownAddresses returns the addresses of the server itself: ips, and every interface address
// when one of them is unspecified (a listener on all interfaces).
func ownAddresses(ips ...net.IP) map[netip.Addr]bool {
	own := make(map[netip.Addr]bool)
	all := false
	for _, ip := range ips {
		if a, ok := netip.AddrFromSlice(ip); ok {
			a = a.Unmap()
			own[a] = true
			all = all || a.IsUnspecified()
		}
	}
	if all {
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, ad := range addrs {
				if n, ok := ad.(*net.IPNet); ok {
					if a, ok := netip.AddrFromSlice(n.IP); ok {
						own[a.Unmap()] = true
					}
				}
			}
		}
	}
	return own
}
