// Package turn is peerdesk's embedded TURN server (RFC 8656, over github.com/pion/turn/v5):
// UDP, TCP and TLS listeners, TURN REST credentials from a shared secret with a capped
// lifetime, a relay policy that refuses internal addresses, and per-identity quotas. See
// docs/PROTOCOL.md, section 4.
package turn

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"
	"github.com/rs/zerolog"

	"peerdesk/internal/pionlog"
)

// Realm is the TURN realm of the embedded server.
const Realm = "peerdesk"

// Config configures a Server. Zero values mean the documented defaults.
type Config struct {
	// Secret is the shared secret the credentials are signed with (see Credentials); at
	// least 16 bytes. Required; never logged.
	Secret string
	// UDPAddr and TCPAddr are the addresses of the plain TURN listeners ("host:port";
	// port 0 for an ephemeral one); empty disables one. At least one listener is required.
	UDPAddr, TCPAddr string
	// TLSAddr is the address of the TURNS (TURN over TLS) listener, used when TLS is set.
	TLSAddr string
	// TLS holds the certificate of the TURNS listener; nil disables it.
	TLS *tls.Config
	// TLSName is the host name put in turns: URLs, which the certificate must name; empty
	// means RelayIP.
	TLSName string
	// RelayIP is the address of the relay sockets as clients and peers reach it (the public
	// address behind a 1:1 NAT); nil means the UDP (else TCP) listener's host, which must
	// then be a specific address.
	RelayIP net.IP
	// RelayBind is the local address the relay sockets bind to; empty means RelayIP.
	RelayBind string
	// RelayPortMin and RelayPortMax restrict the relay ports to a range; zero means any
	// ephemeral port.
	RelayPortMin, RelayPortMax uint16
	// Allow lists peer ranges the relay policy lets through although they are internal
	// (a LAN deployment, tests on loopback).
	Allow []netip.Prefix
	// MaxTTL is the longest credential lifetime accepted: a username whose expiry lies
	// further ahead is refused as future-dated. It is also how long after its expiry a
	// credential is still accepted for the requests of an allocation it made (Refresh,
	// CreatePermission, ChannelBind), and how long an ended identity stays refused. Zero
	// means DefaultMaxTTL; set it to the lifetime of the credentials issued.
	MaxTTL time.Duration
	// PeerQuota and AgentQuota bound each identity (see AgentIdentityPrefix), GroupQuota every
	// group of identities (see GroupSeparator); zero fields take DefaultPeerQuota's,
	// DefaultAgentQuota's and DefaultGroupQuota's.
	PeerQuota, AgentQuota, GroupQuota Quota
	// MaxAllocations bounds the allocations of all identities together (default
	// DefaultMaxAllocations).
	MaxAllocations int
	// Conns bounds the TCP and TLS connections (default DefaultConnLimits).
	Conns ConnLimits
	// Logger receives the server's logs (never a credential or the secret).
	Logger zerolog.Logger
	// Now is the clock the credentials are checked against; nil means time.Now.
	Now func() time.Time
}

func (c *Config) validate() error {
	if len(c.Secret) < 16 {
		return fmt.Errorf("%w: the shared secret must have at least 16 bytes", ErrInvalidConfig)
	}
	if c.UDPAddr == "" && c.TCPAddr == "" && (c.TLS == nil || c.TLSAddr == "") {
		return fmt.Errorf("%w: no listener address", ErrInvalidConfig)
	}
	if c.TLS != nil && c.TLSAddr == "" {
		return fmt.Errorf("%w: TLS without TLSAddr", ErrInvalidConfig)
	}
	if c.MaxTTL < 0 {
		return fmt.Errorf("%w: negative MaxTTL", ErrInvalidConfig)
	}
	if (c.RelayPortMin == 0) != (c.RelayPortMax == 0) || c.RelayPortMin > c.RelayPortMax {
		return fmt.Errorf("%w: relay port range %d-%d", ErrInvalidConfig, c.RelayPortMin, c.RelayPortMax)
	}
	if c.RelayIP == nil {
		addr := c.UDPAddr
		if addr == "" {
			addr = c.TCPAddr
		}
		host, _, err := net.SplitHostPort(addr)
		ip := net.ParseIP(host)
		if err != nil || ip == nil || ip.IsUnspecified() {
			return fmt.Errorf("%w: RelayIP is required when listening on %q", ErrInvalidConfig, addr)
		}
		c.RelayIP = ip
	}
	if c.RelayBind == "" {
		c.RelayBind = c.RelayIP.String()
	}
	if c.MaxTTL == 0 {
		c.MaxTTL = DefaultMaxTTL
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.PeerQuota = c.PeerQuota.withDefaults(DefaultPeerQuota)
	c.AgentQuota = c.AgentQuota.withDefaults(DefaultAgentQuota)
	c.GroupQuota = c.GroupQuota.withDefaults(DefaultGroupQuota)
	if c.MaxAllocations == 0 {
		c.MaxAllocations = DefaultMaxAllocations
	}
	c.Conns = c.Conns.withDefaults()
	return nil
}

// Server is a running embedded TURN server. Close it when done.
type Server struct {
	cfg    Config
	log    zerolog.Logger
	srv    *turn.Server
	udp    net.PacketConn
	tcp    net.Listener
	tls    net.Listener
	quotas *quotas
	guard  *connGuard

	refused atomic.Uint64

	closeOnce sync.Once
	closeErr  error
}

// New starts a server listening on the configured addresses.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With().Str("component", "turn").Logger()}
	var inner turn.RelayAddressGenerator = &turn.RelayAddressGeneratorStatic{RelayAddress: cfg.RelayIP, Address: cfg.RelayBind}
	if cfg.RelayPortMin != 0 {
		inner = &turn.RelayAddressGeneratorPortRange{RelayAddress: cfg.RelayIP, Address: cfg.RelayBind, MinPort: cfg.RelayPortMin, MaxPort: cfg.RelayPortMax}
	}
	s.quotas = &quotas{
		peer: cfg.PeerQuota, group: cfg.GroupQuota, agent: cfg.AgentQuota, maxAllocations: cfg.MaxAllocations,
		inner: inner, log: s.log, now: cfg.Now, grace: cfg.MaxTTL,
		users: make(map[string]*usage), groups: make(map[string]*usage), ended: make(map[string]time.Time),
	}
	s.guard = newConnGuard(cfg.Conns, s.log)

	var err error
	var own []net.IP
	sc := turn.ServerConfig{
		Realm:         Realm,
		AuthHandler:   s.authenticate,
		QuotaHandler:  s.quotas.allow,
		LoggerFactory: pionlog.Factory{Log: s.log},
	}
	if cfg.UDPAddr != "" {
		if s.udp, err = net.ListenPacket("udp", cfg.UDPAddr); err != nil {
			return nil, fmt.Errorf("turn: listen UDP: %w", err)
		}
		own = append(own, s.udp.LocalAddr().(*net.UDPAddr).IP)
	}
	listen := func(addr string, tc *tls.Config) (net.Listener, error) {
		if addr == "" {
			return nil, nil
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		own = append(own, l.Addr().(*net.TCPAddr).IP)
		l = s.guard.listener(l)
		if tc != nil {
			l = tls.NewListener(l, tc)
		}
		return l, nil
	}
	if s.tcp, err = listen(cfg.TCPAddr, nil); err == nil && cfg.TLS != nil {
		s.tls, err = listen(cfg.TLSAddr, cfg.TLS)
	}
	if err != nil {
		s.closeListeners()
		return nil, fmt.Errorf("turn: listen TCP: %w", err)
	}
	own = append(own, cfg.RelayIP)
	if ip := net.ParseIP(cfg.RelayBind); ip != nil {
		own = append(own, ip)
	}
	policy := &relayPolicy{allow: cfg.Allow, own: ownAddresses(own...)}
	if s.udp != nil {
		sc.PacketConnConfigs = append(sc.PacketConnConfigs, turn.PacketConnConfig{PacketConn: s.udp, RelayAddressGenerator: s.quotas, PermissionHandler: policy.handler})
	}
	for _, l := range []net.Listener{s.tcp, s.tls} {
		if l != nil {
			sc.ListenerConfigs = append(sc.ListenerConfigs, turn.ListenerConfig{Listener: l, RelayAddressGenerator: s.quotas, PermissionHandler: policy.handler})
		}
	}
	if s.srv, err = turn.NewServer(sc); err != nil {
		s.closeListeners()
		return nil, fmt.Errorf("turn: start server: %w", err)
	}
	ev := s.log.Info().Str("relay_ip", cfg.RelayIP.String()).Int("allow_list", len(cfg.Allow))
	for name, a := range map[string]net.Addr{"udp": s.UDPAddr(), "tcp": s.TCPAddr(), "tls": s.TLSAddr()} {
		if a != nil {
			ev = ev.Str(name, a.String())
		}
	}
	ev.Msg("TURN server listening")
	return s, nil
}

func (s *Server) closeListeners() {
	if s.udp != nil {
		_ = s.udp.Close()
	}
	for _, l := range []net.Listener{s.tcp, s.tls} {
		if l != nil {
			_ = l.Close()
		}
	}
}

// authenticate is the AuthHandler: it checks a REST username's expiry and lifetime cap and
// returns the identity as the user id (the quota key) with the long-term key of its
// password. An expired credential is accepted for MaxTTL more for the requests of an
// allocation it created (Refresh, CreatePermission, ChannelBind: pion binds those to the
// allocation's 5-tuple and user id), so that a relayed session outlives its credential until
// the holder's next fresh one; new allocations need a valid one. An ended identity is refused.
func (s *Server) authenticate(ra *turn.RequestAttributes) (string, []byte, bool) {
	var grace time.Duration // how long expired credentials stay good for an allocation's upkeep
	if ra.Method != stun.MethodAllocate {
		grace = s.cfg.MaxTTL
	}
	identity, err := parseUsername(ra.Username, s.cfg.Now(), s.cfg.MaxTTL, grace)
	if err == nil && s.quotas.isEnded(identity) {
		err = errEnded
	}
	if err != nil {
		s.refused.Add(1)
		s.log.Debug().Err(err).Str("client", ra.SrcAddr.String()).Str("method", ra.Method.String()).Msg("credential refused")
		return "", nil, false
	}
	return identity, turn.GenerateAuthKey(ra.Username, ra.Realm, Password([]byte(s.cfg.Secret), ra.Username)), true
}

// URLs returns the turn: (and turns:) URLs of the listeners, for Credentials.
func (s *Server) URLs() []string {
	var urls []string
	host := s.cfg.RelayIP.String()
	if a := s.UDPAddr(); a != nil {
		urls = append(urls, "turn:"+net.JoinHostPort(host, port(a))+"?transport=udp")
	}
	if a := s.TCPAddr(); a != nil {
		urls = append(urls, "turn:"+net.JoinHostPort(host, port(a))+"?transport=tcp")
	}
	if a := s.TLSAddr(); a != nil {
		name := s.cfg.TLSName
		if name == "" {
			name = host
		}
		urls = append(urls, "turns:"+net.JoinHostPort(name, port(a))+"?transport=tcp")
	}
	return urls
}

func port(a net.Addr) string {
	switch a := a.(type) {
	case *net.UDPAddr:
		return strconv.Itoa(a.Port)
	case *net.TCPAddr:
		return strconv.Itoa(a.Port)
	}
	return "0"
}

// UDPAddr is the address of the UDP listener, nil without one.
func (s *Server) UDPAddr() net.Addr {
	if s.udp == nil {
		return nil
	}
	return s.udp.LocalAddr()
}

// TCPAddr is the address of the TCP listener, nil without one.
func (s *Server) TCPAddr() net.Addr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr()
}

// TLSAddr is the address of the TURNS listener, nil without one.
func (s *Server) TLSAddr() net.Addr {
	if s.tls == nil {
		return nil
	}
	return s.tls.Addr()
}

// Allocations is the number of live allocations.
func (s *Server) Allocations() int { return s.srv.AllocationCount() }

// Refused counts the credentials refused since the start.
func (s *Server) Refused() uint64 { return s.refused.Load() }

// EndIdentity ends every allocation of identity and refuses its credentials from now on (for
// MaxTTL, by when they have expired): for a participant whose signaling socket closed, whose
// link was revoked or whose session ended.
func (s *Server) EndIdentity(identity string) { s.quotas.end(identity) }

// Stats returns what the server's quotas and connection limits refused.
func (s *Server) Stats() Stats {
	return Stats{Quotas: s.quotas.stats(), Conns: s.guard.stats()}
}

// Stats counts what the server refused to protect itself.
type Stats struct {
	Quotas QuotaStats
	Conns  ConnStats
}

// Close stops the server, its listeners and every allocation; safe to call twice.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.srv.Close()
		if errors.Is(s.closeErr, net.ErrClosed) {
			s.closeErr = nil
		}
	})
	return s.closeErr
}
