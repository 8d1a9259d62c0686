package turn

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/pion/turn/v5"
	"golang.org/x/time/rate"
)

// AgentIdentityPrefix starts the identity of every relay agent's credential: agents, which
// relay to every participant, get Config.AgentQuota instead of Config.PeerQuota.
const AgentIdentityPrefix = "agent-"

// Quota bounds what one identity may use of the server.
type Quota struct {
	// Allocations is the most allocations the identity may hold at once.
	Allocations int
	// Bandwidth is the bytes per second relayed for the identity, both directions and all of
	// its allocations together; packets beyond it are dropped (a policer, so that no server
	// goroutine ever waits). Negative means unlimited.
	Bandwidth int
}

// Default quotas; a zero field of a configured Quota takes the default's.
var (
	DefaultPeerQuota  = Quota{Allocations: 10, Bandwidth: 8 << 20}
	DefaultAgentQuota = Quota{Allocations: 128, Bandwidth: 64 << 20}
)

func (q Quota) withDefaults(d Quota) Quota {
	if q.Allocations == 0 {
		q.Allocations = d.Allocations
	}
	if q.Bandwidth == 0 {
		q.Bandwidth = d.Bandwidth
	}
	return q
}

// usage is one identity's allocations and bandwidth bucket.
type usage struct {
	allocations int
	limiter     *rate.Limiter // nil when unlimited
}

// quotas tracks every identity holding allocations and wraps the relay generator so that
// each allocation counts towards its identity's quota and its traffic passes its bucket.
type quotas struct {
	peer, agent Quota
	inner       turn.RelayAddressGenerator

	mu    sync.Mutex
	users map[string]*usage
}

func (q *quotas) quota(identity string) Quota {
	if strings.HasPrefix(identity, AgentIdentityPrefix) {
		return q.agent
	}
	return q.peer
}

// allow is the QuotaHandler: it answers 486 to an Allocate beyond the identity's quota.
func (q *quotas) allow(identity, _ string, _ net.Addr) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	u := q.users[identity]
	return u == nil || u.allocations < q.quota(identity).Allocations
}

// acquire counts one more allocation of identity, refusing one beyond its quota (the
// QuotaHandler answered first; this closes the race between two Allocates of one identity).
func (q *quotas) acquire(identity string) (*rate.Limiter, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	qu := q.quota(identity)
	u := q.users[identity]
	if u == nil {
		u = &usage{}
		if qu.Bandwidth > 0 {
			u.limiter = rate.NewLimiter(rate.Limit(qu.Bandwidth), max(qu.Bandwidth, 64<<10))
		}
		q.users[identity] = u
	}
	if u.allocations >= qu.Allocations {
		return nil, errQuota
	}
	u.allocations++
	return u.limiter, nil
}

func (q *quotas) release(identity string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if u := q.users[identity]; u != nil {
		if u.allocations--; u.allocations <= 0 {
			delete(q.users, identity)
		}
	}
}

// Validate implements turn.RelayAddressGenerator.
func (q *quotas) Validate() error { return q.inner.Validate() }

// AllocatePacketConn allocates a UDP relay counted against the identity (the UserID the
// auth handler returned) and policed by its bucket.
func (q *quotas) AllocatePacketConn(conf turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	lim, err := q.acquire(conf.UserID)
	if err != nil {
		return nil, nil, err
	}
	conn, addr, err := q.inner.AllocatePacketConn(conf)
	if err != nil {
		q.release(conf.UserID)
		return nil, nil, fmt.Errorf("turn: allocate relay: %w", err)
	}
	return &policedConn{PacketConn: conn, lim: lim, release: sync.OnceFunc(func() { q.release(conf.UserID) })}, addr, nil
}

// AllocateListener refuses: WebRTC relays over UDP, and RFC 6062 TCP relays would need
// their own permission and quota accounting.
func (q *quotas) AllocateListener(turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, errTCPRelay
}

// AllocateConn refuses, as AllocateListener.
func (q *quotas) AllocateConn(turn.AllocateConnConfig) (net.Conn, error) {
	return nil, errTCPRelay
}

// policedConn is a relay socket whose packets, both ways, pass the identity's token bucket
// or are dropped, and whose Close gives the allocation back to the quota.
type policedConn struct {
	net.PacketConn
	lim     *rate.Limiter
	release func()
}

// ReadFrom returns the next packet from a peer within the bucket, dropping those beyond.
func (c *policedConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil || c.lim == nil || c.lim.AllowN(time.Now(), n) {
			return n, addr, err
		}
	}
}

// WriteTo sends a packet to a peer if the bucket allows it; a dropped packet is reported as
// sent, as the network would lose it silently.
func (c *policedConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if c.lim != nil && !c.lim.AllowN(time.Now(), len(p)) {
		return len(p), nil
	}
	return c.PacketConn.WriteTo(p, addr)
}

// Close closes the relay socket and releases its allocation; safe to call twice.
func (c *policedConn) Close() error {
	c.release()
	return c.PacketConn.Close()
}
