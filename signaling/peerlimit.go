package signaling

import (
	"maps"
	"net/http"
	"sync"

	"peerdesk/store"
)

// Defaults of Config.MaxPeersPerUser and Config.MaxPeersPerAddress.
const (
	DefaultMaxPeersPerUser    = 16
	DefaultMaxPeersPerAddress = 64
)

// msgTooManyPeers answers a peer WebSocket over its user's or address's cap, and
// msgTooManyJoins one from an address that opened too many in a short time.
const (
	msgTooManyPeers = "too many open sessions"
	msgTooManyJoins = "too many sessions opened from this address; try again in a moment"
)

// peerKey is what open peer sockets are counted by: a logged-in user, whatever the path it
// joins by, or the client address (clientAddr) of an anonymous guest.
type peerKey struct {
	user store.UserID
	addr string // only when user is 0
}

// peerLimits caps the /ws/peer sockets open at once per logged-in user and per client
// address of anonymous guests, so that one client cannot hold an unbounded number of
// sockets and their sessions' state; in a cluster, over every node.
type peerLimits struct {
	perUser, perAddr int
	// shared, if set, is told of every slot taken (+1) or freed (-1) here: a cluster's other
	// nodes count them too (clusterops.go). Set before use.
	shared func(k peerKey, delta int)

	mu     sync.Mutex
	open   map[peerKey]int            // only keys with open sockets
	remote map[string]map[peerKey]int // a cluster's other nodes' open sockets, by node
}

func newPeerLimits(perUser, perAddr int) *peerLimits {
	return &peerLimits{perUser: perUser, perAddr: perAddr, open: make(map[peerKey]int), remote: make(map[string]map[peerKey]int)}
}

// count returns the sockets open for k here and on the other nodes. Callers hold l.mu.
func (l *peerLimits) count(k peerKey) int {
	n := l.open[k]
	for _, r := range l.remote {
		n += r[k]
	}
	return n
}

// changeRemote applies another node's change of delta to k's count there.
func (l *peerLimits) changeRemote(node string, k peerKey, delta int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.remote[node]
	if r == nil {
		r = make(map[peerKey]int)
		l.remote[node] = r
	}
	if r[k] += delta; r[k] <= 0 {
		delete(r, k)
	}
}

// setRemote replaces what node has open (its snapshot; nil: it failed or stopped).
func (l *peerLimits) setRemote(node string, open map[peerKey]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if open == nil {
		delete(l.remote, node)
	} else {
		l.remote[node] = open
	}
}

// snapshot returns a copy of what is open here.
func (l *peerLimits) snapshot() map[peerKey]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.open)
}

// acquire takes a socket slot for user, or for addr if user is 0 (anonymous). It reports
// false if the cap is reached; otherwise the caller calls release when the socket is closed
// (more calls do nothing).
func (l *peerLimits) acquire(user store.UserID, addr string) (release func(), ok bool) {
	k, limit := peerKey{user: user}, l.perUser
	if user == 0 {
		k, limit = peerKey{addr: addr}, l.perAddr
	}
	l.mu.Lock()
	if l.count(k) >= limit {
		l.mu.Unlock()
		return nil, false
	}
	l.open[k]++
	l.mu.Unlock()
	if l.shared != nil {
		l.shared(k, 1)
	}
	return sync.OnceFunc(func() {
		l.mu.Lock()
		if l.open[k]--; l.open[k] == 0 {
			delete(l.open, k)
		}
		l.mu.Unlock()
		if l.shared != nil {
			l.shared(k, -1)
		}
	}), true
}

// acquirePeer takes a peer socket slot for user (0: an anonymous guest, counted by the
// request's clientAddr), or answers 429 and reports false when the cap is reached. The
// caller calls release once the socket is closed (more calls do nothing).
func (s *Server) acquirePeer(w http.ResponseWriter, r *http.Request, user store.UserID) (release func(), ok bool) {
	release, ok = s.peerLimits.acquire(user, s.clientAddr(r))
	if !ok {
		writeError(w, http.StatusTooManyRequests, msgTooManyPeers)
	}
	return release, ok
}
