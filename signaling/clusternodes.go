package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"peerdesk/internal/promfunc"
)

// The nodes of a cluster as each node knows them: heartbeats heard, pipes to them, and what
// a failed one left behind.

// heard notes another node's heartbeat; a new node hears of every node at once.
func (c *cluster) heard(m *nats.Msg) {
	var info nodeInfo
	if json.Unmarshal(m.Data, &info) != nil || !ValidNode(info.Node) || info.Node == c.self.Node {
		return
	}
	c.mu.Lock()
	_, known := c.nodes[info.Node]
	if info.Bye {
		delete(c.nodes, info.Node)
		c.s.peerLimits.setRemote(info.Node, nil)
	} else {
		info.seen = time.Now()
		c.nodes[info.Node] = &info
		if o := normalOrigin(info.URL); o != "" && (len(c.known) < maxKnownOrigins || !c.known[o].IsZero()) {
			c.known[o] = info.seen
		}
	}
	c.mu.Unlock()
	if !known && !info.Bye {
		c.announce(false)
	}
}

// peers returns the other nodes heard of lately.
func (c *cluster) peers() []nodeInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]nodeInfo, 0, len(c.nodes))
	for _, n := range c.nodes {
		if time.Since(n.seen) < nodeTimeout {
			out = append(out, *n)
		}
	}
	return out
}

// nodeLost handles node, which NATS says nobody answers for: the pipes to it close, and if
// its process is gone (store.NodeAlive: its claim on the database is free) it has failed and
// what it left behind ends — it reports that. A node alive but cut off from NATS keeps its
// sessions: its participants here are told to reconnect.
func (c *cluster) nodeLost(node string) (failed bool) {
	alive := c.nodeAlive(node)
	if !alive { // ended first: a participant told, who comes back, finds it so
		c.failed.Add(1)
		c.endNode(node)
	} else {
		c.noisyLost.Warn().Str("node", node).Msg("a server node cannot be reached over NATS but is alive: its sessions go on")
	}
	c.mu.Lock()
	delete(c.nodes, node)
	pipes := c.pipes[node]
	delete(c.pipes, node)
	c.mu.Unlock()
	for p := range pipes {
		p.nodeLost(!alive)
	}
	return !alive
}

// nodeAlive reports whether node's process lives (store.NodeAlive), asking the store at most
// once a heartbeat per node; so it is taken to be while this node is not settled back on
// NATS, or the store cannot say.
func (c *cluster) nodeAlive(node string) bool {
	if !c.settled(2 * heartbeatEvery) {
		return true
	}
	c.mu.Lock()
	if a, ok := c.alive[node]; ok && time.Since(a.at) < heartbeatEvery {
		c.mu.Unlock()
		return a.alive
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(c.ctx, storeTimeout)
	alive, err := c.s.store.NodeAlive(ctx, node)
	cancel()
	if err != nil {
		c.s.log.Error().Err(err).Str("node", node).Msg("is a node alive? taken for alive")
		return true
	}
	c.mu.Lock()
	c.alive[node] = aliveAt{alive, time.Now()}
	c.mu.Unlock()
	return alive
}

// aliveAt is what the store said of a node's process, and when.
type aliveAt struct {
	alive bool
	at    time.Time
}

// settled reports whether this node has been on NATS for d, without a reconnect the watch
// has not seen yet: only then does the others' silence say anything.
func (c *cluster) settled(d time.Duration) bool {
	return c.nc.IsConnected() && time.Since(time.Unix(0, c.upSince.Load())) >= d
}

// closePipes closes every pipe of this node: it lost NATS, and what the pipes carried
// meanwhile is lost. Their clients reconnect.
func (c *cluster) closePipes() {
	c.mu.Lock()
	all := c.pipes
	c.pipes = make(map[string]map[pipeEnd]bool)
	c.mu.Unlock()
	for _, pipes := range all {
		for p := range pipes {
			p.nodeLost(false)
		}
	}
}

// addPipe registers this node's end p of a pipe to node; the returned func forgets it.
func (c *cluster) addPipe(node string, p pipeEnd) (remove func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pipes[node] == nil {
		c.pipes[node] = make(map[pipeEnd]bool)
	}
	c.pipes[node][p] = true
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.pipes[node], p)
		if len(c.pipes[node]) == 0 {
			delete(c.pipes, node)
		}
	}
}

// watch pings, every watchEvery, each node this one has pipes to: one that is gone from NATS
// (killed, or cut off) is lost (nodeLost), and its pipes close at once. While this node is
// off NATS it closes its own pipes and pings nobody; once back, it re-checks its participants
// against the store (hub operations of the others may have been missed) and waits two
// heartbeats for the others to be heard again.
func (c *cluster) watch() {
	defer c.wg.Done()
	t := time.NewTicker(watchEvery)
	defer t.Stop()
	down := false
	reconnects := c.nc.Stats().Reconnects
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		if !c.nc.IsConnected() {
			if !down {
				down = true
				c.s.log.Warn().Msg("off NATS: closing this node's pipes")
				c.closePipes()
			}
			continue
		}
		// A reconnect between two looks (a quick failover) counts as a time off NATS too.
		if n := c.nc.Stats().Reconnects; down || n != reconnects {
			if !down {
				c.closePipes()
			}
			down, reconnects = false, n
			c.upSince.Store(time.Now().UnixNano())
			c.wg.Go(func() { c.s.recheck(c.ctx) })
		}
		if !c.settled(2 * heartbeatEvery) {
			continue
		}
		c.mu.Lock()
		nodes := make([]string, 0, len(c.pipes))
		for n := range c.pipes {
			nodes = append(nodes, n)
		}
		c.mu.Unlock()
		var wg sync.WaitGroup
		for _, n := range nodes {
			wg.Go(func() {
				if _, err := c.nc.Request(nodeSubject(n, "ping"), nil, pipePingTimeout); errors.Is(err, nats.ErrNoResponders) {
					c.nodeLost(n)
				}
			})
		}
		wg.Wait()
	}
}

// metrics returns the cluster's Prometheus metrics; none for a single server (c nil).
func (c *cluster) metrics() []promfunc.Metric {
	if c == nil {
		return nil
	}
	return []promfunc.Metric{
		{Name: "cluster_nodes", Help: "Cluster nodes heard of lately, this one included.", Value: func() float64 { return float64(len(c.peers()) + 1) }},
		{Name: "cluster_pipes", Help: "WebSockets piped between this node and others.", Value: func() float64 {
			c.mu.Lock()
			defer c.mu.Unlock()
			n := 0
			for _, ps := range c.pipes {
				n += len(ps)
			}
			return float64(n)
		}},
		{Name: "cluster_forwarded_total", Help: "Requests forwarded to the node serving their session.", Counter: true, Value: func() float64 { return float64(c.forwarded.Load()) }},
		{Name: "cluster_node_failures_total", Help: "Nodes this node found failed.", Counter: true, Value: func() float64 { return float64(c.failed.Load()) }},
	}
}

// endNode ends, in the store, what failed node left behind, and forgets its open sockets.
func (c *cluster) endNode(node string) {
	c.s.peerLimits.setRemote(node, nil) // its sockets are gone
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	n, err := c.s.store.EndNode(ctx, node, reasonNodeFailed)
	if err != nil {
		c.s.log.Error().Err(err).Str("node", node).Msg("end a failed node's sessions")
		return
	}
	c.s.log.Warn().Str("node", node).Int("sessions", n).Msg("server node failed: its sessions ended, its connections freed")
}

// sweep loses (nodeLost) the nodes unheard of for nodeGone, and those the store names that
// nobody has heard of since this node has been on NATS for nodeGone.
func (c *cluster) sweep() {
	if !c.settled(nodeGone) {
		return // off NATS, or not long back: the others' silence says nothing
	}
	var gone []string
	c.mu.Lock()
	for name, n := range c.nodes {
		if time.Since(n.seen) >= nodeGone {
			gone = append(gone, name)
			delete(c.nodes, name)
		}
	}
	known := make(map[string]bool, len(c.nodes))
	for name := range c.nodes {
		known[name] = true
	}
	c.mu.Unlock()
	{
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		inUse, err := c.s.store.NodesInUse(ctx)
		cancel()
		if err != nil {
			c.s.log.Error().Err(err).Msg("list the nodes in use")
		}
		for _, n := range inUse {
			if n != c.self.Node && !known[n] {
				gone = append(gone, n)
			}
		}
	}
	for _, n := range gone {
		c.nodeLost(n)
	}
}
