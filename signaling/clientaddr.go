package signaling

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// maxForwardedHops bounds the addresses read from a forwarding header: a client can prepend
// any number of its own.
const maxForwardedHops = 16

// clientAddr is the address a request is throttled and capped by: its remoteIP, IPv6 addresses
// cut to their /64, which one client usually owns.
func (s *Server) clientAddr(r *http.Request) string {
	addr := s.remoteIP(r)
	ip, err := netip.ParseAddr(addr)
	if err != nil || !ip.Is6() {
		return addr
	}
	p, _ := ip.Prefix(64) // never fails for an IPv6 address
	return p.String()
}

// remoteIP is the client's IP address: the connection's peer, unless that peer is one of the
// trusted proxies (Config.TrustedProxies), in which case the client is the nearest address of
// its Forwarded (RFC 7239 for=) or else X-Forwarded-For header that is not a trusted proxy
// itself. Addresses come unmapped and without zone; a peer address that is no IP comes as is.
// Forwarding headers from anyone else are ignored: they are the client's to forge.
func (s *Server) remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap().WithZone("")
	if !s.trusted(ip) {
		return ip.String()
	}
	hops := forwardedFor(r.Header.Values("Forwarded"))
	if len(hops) == 0 {
		hops = xForwardedFor(r.Header.Values("X-Forwarded-For"))
	}
	for i := len(hops) - 1; i >= 0 && i >= len(hops)-maxForwardedHops; i-- {
		hop, err := netip.ParseAddr(hops[i])
		if err != nil {
			break // unknown or obfuscated: the proxy's own address is all we know
		}
		hop = hop.Unmap().WithZone("")
		if !s.trusted(hop) {
			return hop.String()
		}
		ip = hop
	}
	return ip.String()
}

// trusted reports whether ip is one of the trusted proxies.
func (s *Server) trusted(ip netip.Addr) bool {
	for _, p := range s.proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// forwardedFor returns the for= addresses of Forwarded headers, in order (host only: ports and
// IPv6 brackets removed).
func forwardedFor(values []string) []string {
	var out []string
	for _, v := range values {
		for _, elem := range strings.Split(v, ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if !ok || !strings.EqualFold(k, "for") {
					continue
				}
				val = strings.Trim(val, `"`)
				if strings.HasPrefix(val, "[") { // "[2001:db8::1]:4711"
					val = strings.TrimPrefix(val, "[")
					val, _, _ = strings.Cut(val, "]")
				} else if h, _, err := net.SplitHostPort(val); err == nil {
					val = h
				}
				out = append(out, val)
			}
		}
	}
	return out
}

// xForwardedFor returns the addresses of X-Forwarded-For headers, in order.
func xForwardedFor(values []string) []string {
	var out []string
	for _, v := range values {
		for _, a := range strings.Split(v, ",") {
			out = append(out, strings.TrimSpace(a))
		}
	}
	return out
}
