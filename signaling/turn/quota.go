package turn

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/turn/v5"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"
)

// AgentIdentityPrefix starts the identity of every relay agent's credential: agents, which
// relay to every participant, get Config.AgentQuota instead of Config.PeerQuota.
const AgentIdentityPrefix = "agent-"

// GroupSeparator separates an identity from its group: "peer-ID.GROUP", where GROUP names
// who holds the identity (a user, or a guest's address). Every identity of a group counts
// towards Config.GroupQuota too, so that fresh identities (a socket each) do not multiply a
// holder's share.
const GroupSeparator = "."

// Quota bounds what one identity, or one group, may use of the server.
type Quota struct {
	// Allocations is the most allocations held at once.
	Allocations int
	// Bandwidth is the bytes per second relayed, both directions and all allocations together;
	// packets beyond it are dropped (a policer, so that no server goroutine ever waits).
	// Negative means unlimited.
	Bandwidth int
}

// Default quotas; a zero field of a configured Quota takes the default's.
var (
	DefaultPeerQuota  = Quota{Allocations: 10, Bandwidth: 8 << 20}
	DefaultGroupQuota = Quota{Allocations: 32, Bandwidth: 16 << 20}
	DefaultAgentQuota = Quota{Allocations: 128, Bandwidth: 64 << 20}
)

// DefaultMaxAllocations is the most allocations the server holds at once, all identities
// together, when Config.MaxAllocations is zero.
const DefaultMaxAllocations = 2048

func (q Quota) withDefaults(d Quota) Quota {
	if q.Allocations == 0 {
		q.Allocations = d.Allocations
	}
	if q.Bandwidth == 0 {
		q.Bandwidth = d.Bandwidth
	}
	return q
}

// usage is one identity's or group's allocations and bandwidth bucket.
type usage struct {
	allocations int
	limiter     *rate.Limiter // nil when unlimited
	conns       map[*policedConn]struct{}
}

func newUsage(q Quota) *usage {
	u := &usage{conns: make(map[*policedConn]struct{})}
	if q.Bandwidth > 0 {
		u.limiter = rate.NewLimiter(rate.Limit(q.Bandwidth), max(q.Bandwidth, 64<<10))
	}
	return u
}

// quotas tracks every identity and group holding allocations and wraps the relay generator so
// that each allocation counts towards its identity's, its group's and the server's quota and
// its traffic passes their buckets. It also remembers the identities ended (EndIdentity) until
// their credentials can no longer be used.
type quotas struct {
	peer, group, agent Quota
	maxAllocations     int
	inner              turn.RelayAddressGenerator
	log                zerolog.Logger
	now                func() time.Time
	grace              time.Duration // how long an ended identity is refused

	mu     sync.Mutex
	users  map[string]*usage
	groups map[string]*usage
	total  int
	ended  map[string]time.Time // identity → refused until
	counts QuotaStats
	// relayed counts RelayedBytes, outside mu: every relayed packet adds to it.
	relayed atomic.Uint64
}

// QuotaStats counts what the quotas refused.
type QuotaStats struct {
	// RefusedIdentity, RefusedGroup and RefusedServer count allocations refused for the
	// identity's, the group's and the server's quota.
	RefusedIdentity, RefusedGroup, RefusedServer uint64
	// RefusedEnded counts requests refused because their identity was ended.
	RefusedEnded uint64
	// Ended counts the identities ended, and EndedAllocations the allocations that ended with
	// them.
	Ended, EndedAllocations uint64
	// Allocations is the number held now; Allocated counts every allocation made.
	Allocations int
	Allocated   uint64
	// RelayedBytes counts the bytes relayed, both ways (the packets dropped over a bandwidth
	// quota aside).
	RelayedBytes uint64
}

// group returns the group of identity, "" for none.
func group(identity string) string {
	if strings.HasPrefix(identity, AgentIdentityPrefix) {
		return ""
	}
	_, g, ok := strings.Cut(identity, GroupSeparator)
	if !ok {
		return ""
	}
	return g
}

func (q *quotas) quota(identity string) Quota {
	if strings.HasPrefix(identity, AgentIdentityPrefix) {
		return q.agent
	}
	return q.peer
}

// allow is the QuotaHandler: it answers 486 to an Allocate beyond a quota.
func (q *quotas) allow(identity, _ string, _ net.Addr) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.refusalLocked(identity) == nil
}

// refusalLocked says which quota a new allocation of identity would exceed, nil for none, and
// counts it; q.mu is held.
func (q *quotas) refusalLocked(identity string) error {
	if u := q.users[identity]; u != nil && u.allocations >= q.quota(identity).Allocations {
		q.counts.RefusedIdentity++
		q.log.Warn().Str("identity", identity).Msg("TURN allocation refused: identity quota")
		return fmt.Errorf("%w: identity", errQuota)
	}
	if g := group(identity); g != "" {
		if u := q.groups[g]; u != nil && u.allocations >= q.group.Allocations {
			q.counts.RefusedGroup++
			q.log.Warn().Str("group", g).Msg("TURN allocation refused: group quota")
			return fmt.Errorf("%w: group", errQuota)
		}
	}
	if q.total >= q.maxAllocations {
		q.counts.RefusedServer++
		q.log.Warn().Int("allocations", q.total).Msg("TURN allocation refused: server quota")
		return fmt.Errorf("%w: server", errQuota)
	}
	return nil
}

// acquire counts one more allocation of identity, refusing one beyond its quotas (the
// QuotaHandler answered first; this closes the race between two Allocates).
func (q *quotas) acquire(identity string) (*policedConn, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.refusalLocked(identity); err != nil {
		return nil, err
	}
	c := &policedConn{identity: identity, q: q}
	u := q.users[identity]
	if u == nil {
		u = newUsage(q.quota(identity))
		q.users[identity] = u
	}
	u.allocations++
	c.lims = append(c.lims, u.limiter)
	if g := group(identity); g != "" {
		gu := q.groups[g]
		if gu == nil {
			gu = newUsage(q.group)
			q.groups[g] = gu
		}
		gu.allocations++
		c.lims = append(c.lims, gu.limiter)
	}
	q.total++
	q.counts.Allocated++
	return c, nil
}

func (q *quotas) release(c *policedConn) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if u := q.users[c.identity]; u != nil {
		delete(u.conns, c)
		if u.allocations--; u.allocations <= 0 {
			delete(q.users, c.identity)
		}
	}
	if g := group(c.identity); g != "" {
		if u := q.groups[g]; u != nil {
			if u.allocations--; u.allocations <= 0 {
				delete(q.groups, g)
			}
		}
	}
	q.total--
}

// end ends identity's allocations and refuses its credentials from now on, for grace.
func (q *quotas) end(identity string) {
	now := q.now()
	q.mu.Lock()
	for id, until := range q.ended {
		if now.After(until) {
			delete(q.ended, id)
		}
	}
	q.ended[identity] = now.Add(q.grace)
	q.counts.Ended++
	var conns []*policedConn
	if u := q.users[identity]; u != nil {
		for c := range u.conns {
			conns = append(conns, c)
		}
	}
	q.counts.EndedAllocations += uint64(len(conns))
	q.mu.Unlock()
	for _, c := range conns {
		_ = c.Close() // pion deletes the allocation when its relay socket fails
	}
}

// isEnded reports whether identity was ended and is refused; it counts a refusal.
func (q *quotas) isEnded(identity string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	until, ok := q.ended[identity]
	if ok && q.now().Before(until) {
		q.counts.RefusedEnded++
		return true
	}
	return false
}

func (q *quotas) stats() QuotaStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	st := q.counts
	st.Allocations, st.RelayedBytes = q.total, q.relayed.Load()
	return st
}

// Validate implements turn.RelayAddressGenerator.
func (q *quotas) Validate() error { return q.inner.Validate() }

// AllocatePacketConn allocates a UDP relay counted against the identity (the UserID the
// auth handler returned) and policed by its buckets.
func (q *quotas) AllocatePacketConn(conf turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	c, err := q.acquire(conf.UserID)
	if err != nil {
		return nil, nil, err
	}
	conn, addr, err := q.inner.AllocatePacketConn(conf)
	if err != nil {
		q.release(c)
		return nil, nil, fmt.Errorf("turn: allocate relay: %w", err)
	}
	c.PacketConn = conn
	c.releaseOnce = sync.OnceFunc(func() { q.release(c) })
	if !q.track(c) {
		_ = c.Close()
		return nil, nil, fmt.Errorf("%w: its identity was ended", errQuota)
	}
	return c, addr, nil
}

// track records c among its identity's relay sockets, which end ends, unless the identity was
// ended meanwhile.
func (q *quotas) track(c *policedConn) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if until, ok := q.ended[c.identity]; ok && q.now().Before(until) {
		return false
	}
	if u := q.users[c.identity]; u != nil {
		u.conns[c] = struct{}{}
	}
	return true
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

// policedConn is a relay socket whose packets, both ways, pass its identity's and group's
// token buckets or are dropped, and whose Close gives the allocation back to the quotas.
type policedConn struct {
	net.PacketConn
	identity    string
	q           *quotas
	lims        []*rate.Limiter // nil entries are unlimited
	releaseOnce func()
}

// allow reports whether n more bytes fit every bucket.
func (c *policedConn) allow(n int) bool {
	now := time.Now()
	for _, l := range c.lims {
		if l != nil && !l.AllowN(now, n) {
			return false
		}
	}
	return true
}

// ReadFrom returns the next packet from a peer within the buckets, dropping those beyond.
func (c *policedConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil {
			return n, addr, err
		}
		if c.allow(n) {
			c.q.relayed.Add(uint64(n))
			return n, addr, nil
		}
	}
}

// WriteTo sends a packet to a peer if the buckets allow it; a dropped packet is reported as
// sent, as the network would lose it silently.
func (c *policedConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if !c.allow(len(p)) {
		return len(p), nil
	}
	n, err := c.PacketConn.WriteTo(p, addr)
	c.q.relayed.Add(uint64(n))
	return n, err
}

// Close closes the relay socket and releases its allocation; safe to call twice.
func (c *policedConn) Close() error {
	c.releaseOnce()
	return c.PacketConn.Close()
}
