package turn

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// ConnLimits bound the embedded server's TCP and TLS connections, which cost a file
// descriptor and a goroutine each whatever they carry.
type ConnLimits struct {
	// FirstRequest is how long a new connection has to send its first bytes (the TLS
	// handshake, or a STUN request) before it is closed.
	FirstRequest time.Duration
	// Idle is how long a connection may stay silent once it has spoken (an allocation is
	// refreshed, and ICE checks it, every few seconds to minutes).
	Idle time.Duration
	// PerAddress is the most connections open at once from one client address; Total from
	// all of them.
	PerAddress, Total int
}

// DefaultConnLimits are the limits of a zero ConnLimits' fields.
var DefaultConnLimits = ConnLimits{FirstRequest: 5 * time.Second, Idle: 2 * time.Minute, PerAddress: 16, Total: 1024}

func (l ConnLimits) withDefaults() ConnLimits {
	if l.FirstRequest == 0 {
		l.FirstRequest = DefaultConnLimits.FirstRequest
	}
	if l.Idle == 0 {
		l.Idle = DefaultConnLimits.Idle
	}
	if l.PerAddress == 0 {
		l.PerAddress = DefaultConnLimits.PerAddress
	}
	if l.Total == 0 {
		l.Total = DefaultConnLimits.Total
	}
	return l
}

// ConnStats counts what the connection limits did.
type ConnStats struct {
	// RefusedAddress and RefusedTotal count connections closed at accept for their address's
	// cap or the total cap; TimedOut those closed for silence (no first bytes in time, or idle).
	RefusedAddress, RefusedTotal, TimedOut uint64
}

// connGuard enforces ConnLimits on the connections of the listeners it wraps.
type connGuard struct {
	limits ConnLimits
	log    zerolog.Logger

	mu     sync.Mutex
	open   map[netip.Addr]int
	total  int
	counts ConnStats
}

func newConnGuard(l ConnLimits, log zerolog.Logger) *connGuard {
	return &connGuard{limits: l, log: log, open: make(map[netip.Addr]int)}
}

func (g *connGuard) stats() ConnStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.counts
}

// listener wraps l so that its connections are counted, capped and timed out.
func (g *connGuard) listener(l net.Listener) net.Listener { return &guardedListener{Listener: l, g: g} }

type guardedListener struct {
	net.Listener
	g *connGuard
}

// Accept returns the next connection within the caps; one beyond them is closed at once (the
// client sees a reset) and Accept goes on to the next.
func (l *guardedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if gc := l.g.admit(c); gc != nil {
			return gc, nil
		}
		_ = c.Close()
	}
}

// admit counts c, or reports nil if it is over a cap.
func (g *connGuard) admit(c net.Conn) net.Conn {
	addr := netip.Addr{}
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		addr = ta.AddrPort().Addr().Unmap()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.total >= g.limits.Total:
		g.counts.RefusedTotal++
		g.log.Warn().Int("open", g.total).Msg("TURN connection refused: total cap")
		return nil
	case g.open[addr] >= g.limits.PerAddress:
		g.counts.RefusedAddress++
		g.log.Warn().Str("client", addr.String()).Msg("TURN connection refused: per-address cap")
		return nil
	}
	g.total++
	g.open[addr]++
	gc := &guardedConn{Conn: c, g: g, addr: addr}
	gc.extend(g.limits.FirstRequest)
	return gc
}

func (g *connGuard) release(addr netip.Addr) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.total--
	if g.open[addr]--; g.open[addr] <= 0 {
		delete(g.open, addr)
	}
}

// guardedConn is an accepted connection whose reads time out: FirstRequest for the first
// bytes, Idle after each read.
type guardedConn struct {
	net.Conn
	g         *connGuard
	addr      netip.Addr
	limit     atomic.Int64 // the guard's read deadline, unix nanoseconds
	closeOnce sync.Once
}

// extend moves the guard's read deadline to d from now.
func (c *guardedConn) extend(d time.Duration) {
	t := time.Now().Add(d)
	c.limit.Store(t.UnixNano())
	_ = c.Conn.SetReadDeadline(t)
}

func (c *guardedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.extend(c.g.limits.Idle)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		c.g.mu.Lock()
		c.g.counts.TimedOut++
		c.g.mu.Unlock()
	}
	return n, err
}

// SetReadDeadline keeps the guard's deadline: a later deadline than it (or none) is shortened
// to it.
func (c *guardedConn) SetReadDeadline(t time.Time) error {
	limit := time.Unix(0, c.limit.Load())
	if t.IsZero() || t.After(limit) {
		t = limit
	}
	return c.Conn.SetReadDeadline(t)
}

// SetDeadline applies SetReadDeadline's rule to reads.
func (c *guardedConn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.SetReadDeadline(t)
}

func (c *guardedConn) Close() error {
	c.closeOnce.Do(func() { c.g.release(c.addr) })
	return c.Conn.Close()
}
