package signaling

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"peerdesk/store"
)

// A cluster is several serve nodes on one PostgreSQL database that meet over NATS. A live
// session lives on one node: the home of its connection (store.ClaimHome), where the
// connection's agent, its session and every peer socket meet. A request for it arriving at
// another node is forwarded there (forward.go); what concerns every node (a user deleted, a
// login ended, a link revoked, a throttle's miss) is published to all (clusterops.go). Nodes
// announce themselves every heartbeat; one that stopped answering is failed: any node ends
// its sessions and frees its homes, and the next request for one of its connections makes a
// session on the node it arrives at.

// ClusterConfig makes a Server a node of a cluster.
type ClusterConfig struct {
	// NATS is the connection to the cluster's NATS; the Server does not close it.
	NATS *nats.Conn
	// Node is this node's name, unique in the cluster (ValidNode), and the name its Store was
	// opened with (store.WithNode).
	Node string
	// URL is the origin browsers reach this node at, if they may reach it directly.
	URL string
	// TURN lists this node's TURN URLs, handed out by the other nodes too.
	TURN []string
}

// Cluster timings.
const (
	heartbeatEvery = 2 * time.Second
	nodeTimeout    = 3 * heartbeatEvery // unheard of this long: not offered, not asked
	nodeGone       = 15 * time.Second   // unheard of this long: failed
	gatherTimeout  = time.Second        // another node's answer to a question asked of all
	verifyEvery    = 3                  // heartbeats between two checks of this node's homes
	watchEvery     = 500 * time.Millisecond
	// knownFor is how long the origin of a node heard of stays allowed: pages it served
	// reconnect to the other nodes when it fails.
	knownFor        = 24 * time.Hour
	maxKnownOrigins = 1024
)

// reasonNodeFailed ends the sessions of a node that stopped answering; msgNodeFailed tells
// their participants.
const (
	reasonNodeFailed = "server node failed"
	msgNodeFailed    = "The session ended: the server node running it failed"
)

// Subjects every node listens to (a node's own: nodeSubject).
const (
	subjectNodes    = "peerdesk.nodes"
	subjectHub      = "peerdesk.hub"
	subjectThrottle = "peerdesk.throttle"
	subjectPeers    = "peerdesk.peers"
)

func nodeSubject(node, what string) string { return "peerdesk.node." + node + "." + what }

// ValidNode reports whether name can name a node: 1-32 lower-case letters, digits and '-'.
func ValidNode(name string) bool {
	if len(name) == 0 || len(name) > 32 {
		return false
	}
	for _, r := range name {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

// nodeInfo is a node's heartbeat.
type nodeInfo struct {
	Node string    `json:"node"`
	URL  string    `json:"url,omitempty"`
	TURN []string  `json:"turn,omitempty"`
	Bye  bool      `json:"bye,omitempty"` // it is stopping
	seen time.Time // when it was last heard of
}

type cluster struct {
	s       *Server
	nc      *nats.Conn
	self    nodeInfo
	subs    []*nats.Subscription
	idle    chan store.ConnectionID // connections the hub has no agent nor session of any more
	stop    chan struct{}
	closed  atomic.Bool
	upSince atomic.Int64    // unix nanoseconds: since when this node is on NATS (watch)
	ctx     context.Context // ends with close
	cancel  context.CancelFunc
	// noisyLost logs lost nodes, a few lines a minute at most.
	noisyLost zerolog.Logger
	// forwarded counts the requests forwarded to other nodes, failed the nodes found failed.
	forwarded, failed atomic.Uint64
	wg                sync.WaitGroup

	quiet map[store.ConnectionID]bool // homes the hub did not serve at the last check (loop only)

	mu    sync.Mutex
	nodes map[string]*nodeInfo        // the others
	alive map[string]aliveAt          // what the store said of their processes lately
	known map[string]time.Time        // origins of the nodes heard of, failed ones too → when last
	pipes map[string]map[pipeEnd]bool // the pipes to each other node
}

// pipeEnd is this node's end of a pipe, closed when the other end's node is lost (failed:
// its process is gone).
type pipeEnd interface {
	nodeLost(failed bool)
}

func (cfg *ClusterConfig) validate(st Store) error {
	if cfg.NATS == nil {
		return fmt.Errorf("%w: Cluster.NATS is required", ErrInvalidConfig)
	}
	if !ValidNode(cfg.Node) {
		return fmt.Errorf("%w: Cluster.Node %q: 1-32 of a-z, 0-9 and -", ErrInvalidConfig, cfg.Node)
	}
	if st.Node() != cfg.Node {
		return fmt.Errorf("%w: the store is node %q's, not %q's (store.WithNode)", ErrInvalidConfig, st.Node(), cfg.Node)
	}
	if cfg.URL != "" && !IsOrigin(cfg.URL) {
		return fmt.Errorf("%w: Cluster.URL %q is not an origin", ErrInvalidConfig, cfg.URL)
	}
	return nil
}

// startCluster joins s to the cluster of cfg, and makes the cluster s.cluster.
func startCluster(s *Server, cfg *ClusterConfig) (*cluster, error) {
	c := &cluster{s: s, nc: cfg.NATS, self: nodeInfo{Node: cfg.Node, URL: cfg.URL, TURN: cfg.TURN},
		idle: make(chan store.ConnectionID, 1024), stop: make(chan struct{}),
		nodes: make(map[string]*nodeInfo), alive: make(map[string]aliveAt), known: make(map[string]time.Time), quiet: make(map[store.ConnectionID]bool), pipes: make(map[string]map[pipeEnd]bool)}
	c.upSince.Store(time.Now().UnixNano())
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.noisyLost = s.log.Sample(&zerolog.BurstSampler{Burst: 3, Period: time.Minute})
	s.hub.idle, s.cluster = c.idle, c // before anything arrives
	c.shareThrottles()
	c.sharePeerLimits()
	for subject, handle := range map[string]nats.MsgHandler{
		nodeSubject(c.self.Node, "http"):   func(m *nats.Msg) { go c.serveForwarded(m) },
		nodeSubject(c.self.Node, "state"):  c.answerState,
		nodeSubject(c.self.Node, "online"): c.answerOnline,
		nodeSubject(c.self.Node, "ping"):   func(m *nats.Msg) { _ = m.Respond(nil) },
		subjectNodes:                       c.heard,
		subjectHub:                         c.hubOpFrom,
		subjectThrottle:                    c.missFrom,
		subjectPeers:                       c.peersFrom,
	} {
		sub, err := c.nc.Subscribe(subject, handle)
		if err != nil {
			c.unsubscribe()
			c.cancel()
			s.cluster = nil
			return nil, fmt.Errorf("signaling: subscribe to %s: %w", subject, err)
		}
		c.subs = append(c.subs, sub)
	}
	if err := c.nc.Flush(); err != nil { // subscribed before anyone is told of us
		c.unsubscribe()
		c.cancel()
		s.cluster = nil
		return nil, fmt.Errorf("signaling: NATS: %w", err)
	}
	c.announce(false)
	c.wg.Add(2)
	go c.loop()
	go c.watch()
	return c, nil
}

func (c *cluster) unsubscribe() {
	for _, sub := range c.subs {
		_ = sub.Unsubscribe()
	}
}

// close says goodbye, stops listening and ends this node's sessions and homes in the store,
// so that the other nodes take its connections over at once.
func (c *cluster) close() {
	if c.closed.Swap(true) {
		return
	}
	close(c.stop)
	c.cancel()
	c.wg.Wait()
	c.announce(true)
	c.unsubscribe()
	_ = c.nc.Flush()
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if _, err := c.s.store.EndNode(ctx, c.self.Node, "server stopped"); err != nil {
		c.s.log.Error().Err(err).Msg("end this node's sessions")
	}
}

func (c *cluster) announce(bye bool) {
	info := c.self
	info.Bye = bye
	data, _ := json.Marshal(info)
	_ = c.nc.Publish(subjectNodes, data)
}

func (c *cluster) loop() {
	defer c.wg.Done()
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for tick := 1; ; tick++ {
		select {
		case <-c.stop:
			return
		case id := <-c.idle:
			c.release(id)
			continue
		case <-t.C:
		}
		c.announce(false)
		c.announcePeers()
		c.checkClaim()
		c.sweep()
		if tick%verifyEvery == 0 {
			c.verifyHomes()
		}
	}
}

// release frees this node's home of connection id if the hub has neither its agent nor a
// session of it, and claims it again if one arrived meanwhile.
func (c *cluster) release(id store.ConnectionID) {
	if c.s.hub.busy(id) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := c.s.store.ReleaseHome(ctx, id, c.self.Node); err != nil {
		c.s.log.Error().Err(err).Int64("connection", int64(id)).Msg("release a home")
		return
	}
	if c.s.hub.busy(id) {
		c.reclaim(ctx, id)
	}
}

// reclaim claims connection id, busy here, again; if another node got it meanwhile, what is
// here moves: the agent is closed (it reconnects) and the session ends.
func (c *cluster) reclaim(ctx context.Context, id store.ConnectionID) {
	home, err := c.s.store.ClaimHome(ctx, id, c.self.Node)
	if err != nil || home == c.self.Node {
		return
	}
	c.s.log.Warn().Int64("connection", int64(id)).Str("home", home).Msg("another node is home to a connection served here: moving it")
	c.s.hub.dropAgent(id, websocket.CloseServiceRestart, "the connection moved to another server node")
	if sess := c.s.hub.liveSession(id); sess != nil {
		_ = c.s.EndSession(ctx, sess.id, reasonNodeFailed, msgSessionEnded)
	}
}

// checkClaim makes sure this node holds its claim on the database, by which the others tell
// it is alive.
func (c *cluster) checkClaim() {
	ctx, cancel := context.WithTimeout(c.ctx, storeTimeout)
	defer cancel()
	if err := c.s.store.CheckClaim(ctx); err != nil {
		c.s.log.Error().Err(err).Msg("this node's claim on the database is lost: the other nodes may take it for failed")
	}
}

// verifyHomes makes the store's homes of this node match its hub: what the hub serves is
// claimed, and what it has not served at two checks in a row is released.
func (c *cluster) verifyHomes() {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	homes, err := c.s.store.Homes(ctx, c.self.Node)
	if err != nil {
		c.s.log.Error().Err(err).Msg("list this node's homes")
		return
	}
	held := make(map[store.ConnectionID]bool, len(homes))
	for _, id := range homes {
		held[id] = true
	}
	for _, id := range c.s.hub.busyConnections() {
		if !held[id] {
			c.reclaim(ctx, id)
		}
	}
	// Sessions the store says ended (another node took this one for failed, while it was off
	// NATS for long) end here too: their links are dead and their history closed.
	here := c.s.hub.liveSessions() // before the store's: a session starts in the store first
	if live, err := c.s.store.NodeLiveSessions(ctx, c.self.Node); err == nil {
		alive := make(map[string]bool, len(live))
		for _, id := range live {
			alive[id] = true
		}
		for _, l := range here {
			if !alive[string(l.id)] {
				c.s.log.Warn().Str("session", string(l.id)).Msg("the store says this node's session ended: ending it")
				c.s.hub.endSession(l.id, msgNodeFailed)
			}
		}
	}
	quiet := make(map[store.ConnectionID]bool)
	for _, id := range homes {
		if c.s.hub.busy(id) {
			continue
		}
		if c.quiet[id] {
			c.release(id)
		} else {
			quiet[id] = true
		}
	}
	c.quiet = quiet
}
