package signaling

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"peerdesk/signaling/proto"
	"peerdesk/store"
)

// What concerns every node of a cluster: hub operations published to all, throttle misses
// shared, the state gathered from all, and every node's TURN servers.

// hubOp is an operation on the hub of every node.
type hubOp struct {
	From     string  `json:"from"` // the node that published it, which applied it already
	Op       string  `json:"op"`
	User     int64   `json:"user,omitempty"`
	Conn     int64   `json:"conn,omitempty"`
	Keep     string  `json:"keep,omitempty"`
	Message  string  `json:"message,omitempty"`
	Links    []int64 `json:"links,omitempty"`
	Code     int     `json:"code,omitempty"`
	Identity string  `json:"identity,omitempty"`
}

// Hub operations.
const (
	opCloseUser        = "close-user"        // hub.closeUser(User, Conn, Keep, Message)
	opCloseLogin       = "close-login"       // hub.closeLogin(Keep, Message)
	opRevokeLinks      = "revoke-links"      // hub.revokeLinks(Links...)
	opRemoveConnection = "remove-connection" // hub.removeConnection(Conn, Message)
	opDropAgent        = "drop-agent"        // hub.dropAgent(Conn, Code, Message)
	opEndICE           = "end-ice"           // the TURN server's EndIdentity(Identity)
)

// everywhere applies op to this node's hub and, in a cluster, publishes it to the others.
func (s *Server) everywhere(op hubOp) {
	s.applyHubOp(op)
	if s.cluster != nil {
		op.From = s.cluster.self.Node
		data, _ := json.Marshal(op)
		if err := s.cluster.nc.Publish(subjectHub, data); err != nil {
			s.log.Error().Err(err).Str("op", op.Op).Msg("publish a hub operation")
		}
	}
}

func (s *Server) applyHubOp(op hubOp) {
	switch op.Op {
	case opCloseUser:
		s.hub.closeUser(store.UserID(op.User), store.ConnectionID(op.Conn), op.Keep, op.Message)
	case opCloseLogin:
		s.hub.closeLogin(op.Keep, op.Message)
	case opRevokeLinks:
		ids := make([]store.LinkID, len(op.Links))
		for i, id := range op.Links {
			ids[i] = store.LinkID(id)
		}
		s.hub.revokeLinks(ids...)
	case opRemoveConnection:
		if sid := s.hub.removeConnection(store.ConnectionID(op.Conn), op.Message); sid != "" {
			s.log.Info().Int64("connection", op.Conn).Str("session", string(sid)).Msg("connection deleted: its session ended")
		}
	case opDropAgent:
		s.hub.dropAgent(store.ConnectionID(op.Conn), op.Code, op.Message)
	case opEndICE:
		if s.endICELocal != nil {
			s.endICELocal(op.Identity)
		}
	}
}

func (c *cluster) hubOpFrom(m *nats.Msg) {
	var op hubOp
	if json.Unmarshal(m.Data, &op) != nil || op.From == c.self.Node {
		return
	}
	c.s.applyHubOp(op)
}

// endICE ends the TURN allocations of identity on every node.
func (s *Server) endICE(identity string) {
	s.everywhere(hubOp{Op: opEndICE, Identity: identity})
}

// throttleMiss is a miss charged to a throttle's key on some node.
type throttleMiss struct {
	From     string `json:"from"`
	Throttle string `json:"throttle"`
	Key      string `json:"key"`
}

// throttles names the server's throttles, as the cluster shares them.
func (s *Server) throttles() map[string]*throttle {
	return map[string]*throttle{"share": s.throttle, "passcode": s.passcodes, "login-address": s.loginAddrs,
		"login-user": s.loginUsers, "join": s.joins, "agent": s.agentDials}
}

// shareThrottles makes every throttle's miss count on every node: a per-node throttle
// times N nodes would be a bypass.
func (c *cluster) shareThrottles() {
	for name, t := range c.s.throttles() {
		t.shared = func(key string) {
			data, _ := json.Marshal(throttleMiss{From: c.self.Node, Throttle: name, Key: key})
			_ = c.nc.Publish(subjectThrottle, data)
		}
	}
}

func (c *cluster) missFrom(m *nats.Msg) {
	var miss throttleMiss
	if json.Unmarshal(m.Data, &miss) != nil || miss.From == c.self.Node {
		return
	}
	if t := c.s.throttles()[miss.Throttle]; t != nil {
		t.charge(miss.Key)
	}
}

// nodeState is what a node serves: the connections whose agents it has (asked of subject
// "online") or its live sessions ("state").
type nodeState struct {
	Online   []int64            `json:"online,omitempty"`
	Sessions []liveSessionReply `json:"sessions,omitempty"`
}

// localSessions returns this node's live sessions as Active Sessions lists them.
func (s *Server) localSessions() []liveSessionReply {
	var out []liveSessionReply
	for _, l := range s.hub.liveSessions() {
		out = append(out, liveSessionReply{ID: string(l.id), Connection: shareConnection{ID: int64(l.conn.ID), Name: l.conn.Name},
			Owner: l.ownerName, StartedAt: l.started.UTC(), Participants: l.identities})
	}
	return out
}

func (c *cluster) answerOnline(m *nats.Msg) {
	data, _ := json.Marshal(nodeState{Online: c.s.hub.onlineConnections()})
	_ = m.Respond(data)
}

// answerState answers with this node's live sessions, the oldest that fit in a NATS message
// (maxGathered) if there are too many.
func (c *cluster) answerState(m *nats.Msg) {
	st := nodeState{Sessions: c.s.localSessions()}
	data, _ := json.Marshal(st)
	for len(data) > maxGathered && len(st.Sessions) > 0 {
		st.Sessions = st.Sessions[:len(st.Sessions)*3/4]
		data, _ = json.Marshal(st)
	}
	_ = m.Respond(data)
}

// maxGathered bounds a node's answer to a question asked of all (NATS's default payload is
// 1 MiB).
const maxGathered = 900 << 10

// gather asks every other node heard of lately on its subject what (nothing for a single
// server) and hands each answer to add, under a lock; a node that does not answer in
// gatherTimeout is left out.
func (s *Server) gather(ctx context.Context, what string, add func(nodeState)) {
	if s.cluster == nil {
		return
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range s.cluster.peers() {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, gatherTimeout)
			defer cancel()
			m, err := s.cluster.nc.RequestWithContext(ctx, nodeSubject(n.Node, what), nil)
			var st nodeState
			if err == nil {
				err = json.Unmarshal(m.Data, &st)
			}
			if err != nil {
				s.log.Warn().Err(err).Str("node", n.Node).Str("what", what).Msg("a node did not say what it serves")
				return
			}
			mu.Lock()
			defer mu.Unlock()
			add(st)
		})
	}
	wg.Wait()
}

// online returns the connections whose agents are connected, to any node.
func (s *Server) online(ctx context.Context) map[int64]bool {
	online := make(map[int64]bool)
	add := func(st nodeState) {
		for _, id := range st.Online {
			online[id] = true
		}
	}
	add(nodeState{Online: s.hub.onlineConnections()})
	s.gather(ctx, "online", add)
	return online
}

// liveSessions returns the live sessions of every node, oldest first.
func (s *Server) liveSessions(ctx context.Context) []liveSessionReply {
	all := s.localSessions()
	s.gather(ctx, "state", func(st nodeState) { all = append(all, st.Sessions...) })
	slices.SortFunc(all, func(a, b liveSessionReply) int {
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), strings.Compare(a.ID, b.ID))
	})
	return all
}

// origins returns the origins of the cluster's nodes heard of lately, this one's first; none
// for a single server (c nil) or nodes without URLs.
func (c *cluster) origins() []string {
	if c == nil {
		return nil
	}
	var out []string
	for _, n := range append([]nodeInfo{c.self}, c.peers()...) {
		if o := normalOrigin(n.URL); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// allowsOrigin reports whether o (lower case scheme://host) is the origin of a node heard of
// within knownFor, failed ones too: the pages they served reconnect here.
func (c *cluster) allowsOrigin(o string) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	seen, ok := c.known[o]
	return ok && time.Since(seen) < knownFor
}

// normalOrigin is a node's URL as an Origin header names it: lower case, no trailing slash; ""
// for none.
func normalOrigin(u string) string {
	if !IsOrigin(u) {
		return ""
	}
	return strings.ToLower(strings.TrimSuffix(u, "/"))
}

// clusterTURN adds the other nodes' TURN URLs to the entries of issued with credentials (the
// embedded TURN server's: valid on every node, which shares its secret).
func (s *Server) clusterTURN(issued []proto.ICEServer) []proto.ICEServer {
	if s.cluster == nil {
		return issued
	}
	var urls []string
	for _, n := range s.cluster.peers() {
		urls = append(urls, n.TURN...)
	}
	for i := range issued {
		if issued[i].Username != "" && len(urls) > 0 {
			issued[i].URLs = append(slices.Clone(issued[i].URLs), urls...)
		}
	}
	return issued
}

// peerCount is a peerLimits key's count on one node.
type peerCount struct {
	User int64  `json:"user,omitempty"`
	Addr string `json:"addr,omitempty"`
	N    int    `json:"n"`
}

func (p peerCount) key() peerKey { return peerKey{user: store.UserID(p.User), addr: p.Addr} }

// peersMessage is a node's open peer sockets: a change (+1, -1) or, every heartbeat, all of
// them, which replaces what the others knew (so that a change lost is not lost for ever).
type peersMessage struct {
	From   string      `json:"from"`
	Change *peerCount  `json:"change,omitempty"`
	All    []peerCount `json:"all"`
}

// sharePeerLimits makes the caps of open peer sockets count the sockets of every node.
func (c *cluster) sharePeerLimits() {
	c.s.peerLimits.shared = func(k peerKey, delta int) {
		c.publishPeers(peersMessage{Change: &peerCount{User: int64(k.user), Addr: k.addr, N: delta}})
	}
}

func (c *cluster) publishPeers(m peersMessage) {
	m.From = c.self.Node
	data, _ := json.Marshal(m)
	_ = c.nc.Publish(subjectPeers, data)
}

// announcePeers publishes every open peer socket of this node.
func (c *cluster) announcePeers() {
	m := peersMessage{All: []peerCount{}}
	for k, n := range c.s.peerLimits.snapshot() {
		m.All = append(m.All, peerCount{User: int64(k.user), Addr: k.addr, N: n})
	}
	c.publishPeers(m)
}

func (c *cluster) peersFrom(m *nats.Msg) {
	var pm peersMessage
	if json.Unmarshal(m.Data, &pm) != nil || pm.From == c.self.Node || !ValidNode(pm.From) {
		return
	}
	if pm.Change != nil {
		if pm.Change.N == 1 || pm.Change.N == -1 {
			c.s.peerLimits.changeRemote(pm.From, pm.Change.key(), pm.Change.N)
		}
		return
	}
	open := make(map[peerKey]int, len(pm.All))
	for _, p := range pm.All {
		if p.N > 0 {
			open[p.key()] += p.N
		}
	}
	c.s.peerLimits.setRemote(pm.From, open)
}
