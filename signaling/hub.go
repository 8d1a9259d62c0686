package signaling

import (
	"crypto/rand"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"peerdesk/signaling/proto"
	"peerdesk/store"
)

// PeerID identifies one peer WebSocket: server-assigned, opaque, unique per process.
type PeerID string

// newPeerID returns a random PeerID of 128 bits.
func newPeerID() PeerID { return PeerID(rand.Text()) }

// conn is a socket as the hub sees it: a *wsConn, or a recorder in the hub's tests. send and
// trySend only queue, never block (a full queue closes a *wsConn as too slow); close sends
// what was queued, then the close frame.
type conn interface {
	send(frame []byte)
	trySend(frame []byte) bool
	close(code int, text string)
}

// agent is the relay agent serving one connection.
type agent struct {
	conn  store.Connection
	ws    conn
	ice   []proto.ICEServer // for its hello
	token string            // its agent token, for re-checks (recheck.go); never logged
}

// peer is one participant's WebSocket on a live session.
type peer struct {
	id       PeerID
	sess     *session
	user     store.UserID // 0 for an anonymous guest
	login    string       // loginRef of the login session it came with; "" without one
	link     store.LinkID // the share link it joined through; 0 if through the connection
	profile  string       // the name of the link's sharing profile; "" without a link
	identity proto.Identity
	readOnly bool
	waits    bool // it joins through the waiting room (its link's profile admits each guest)
	// askControl: its input counts only once the owner gives it control (its link's profile).
	askControl bool
	recordKeys bool // the recorder's: its recording keeps key input (the connection's option)
	ws         conn
	ice        []proto.ICEServer // for its hello
	nodes      []string          // for its hello: the cluster's node origins
}

// owner reports whether p is one of its session owner's peers on the connection.
func (p *peer) owner() bool { return p.identity.Role == proto.RoleOwner }

// hub routes signaling messages between the peers of a live session and its connection's
// agent, and keeps the live sessions. Every send only queues (conn.send never blocks), so
// the hub sends while holding its lock, which keeps each agent's view ordered: hello, then
// a peer's join, then its offer.
type hub struct {
	log        zerolog.Logger
	now        func() time.Time
	grace      time.Duration
	onEnd      func(SessionID, string)   // called without h.mu when a grace timer ended a session
	overBudget *atomic.Uint64            // the server's count of peers disconnected over budget
	idle       chan<- store.ConnectionID // a cluster's: see noteIdle (set before use)

	mu       sync.Mutex
	agents   map[store.ConnectionID]*agent
	sessions map[store.ConnectionID]*session // the live ones, at most one per connection
	byID     map[SessionID]*session
	links    map[store.LinkID]*session  // the links made in live sessions
	arriving map[store.ConnectionID]int // sockets between their home check and the hub (a cluster's)
	closed   bool                       // no more grace timers
	timers   sync.WaitGroup             // grace timer callbacks that may still run
}

func newHub(log zerolog.Logger, now func() time.Time, grace time.Duration, onEnd func(SessionID, string), overBudget *atomic.Uint64) *hub {
	return &hub{
		log:        log,
		now:        now,
		grace:      grace,
		onEnd:      onEnd,
		overBudget: overBudget,
		agents:     make(map[store.ConnectionID]*agent),
		sessions:   make(map[store.ConnectionID]*session),
		byID:       make(map[SessionID]*session),
		links:      make(map[store.LinkID]*session),
		arriving:   make(map[store.ConnectionID]int),
	}
}

// close stops every grace timer and waits for the callbacks already running; no timer
// starts afterwards. The sessions stay live in memory; the next server start ends them
// in the store.
func (h *hub) close() {
	h.mu.Lock()
	h.closed = true
	for _, s := range h.sessions {
		h.stopGrace(s)
		h.stopExpiries(s)
	}
	h.mu.Unlock()
	h.timers.Wait()
}

// online reports whether an agent serves the connection.
func (h *hub) online(id store.ConnectionID) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.agents[id] != nil
}

// addAgent makes a the agent of its connection, closing the agent it replaces, greets it,
// tells the connection's peers the host is available and announces them to a.
func (h *hub) addAgent(a *agent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	id := a.conn.ID
	a.ws.send(proto.Message{
		Type:       proto.TypeHello,
		Connection: &proto.Connection{ID: int64(id), Name: a.conn.Name},
		ICEServers: a.ice,
	}.Encode())
	if old := h.agents[id]; old != nil {
		h.log.Info().Int64("connection", int64(id)).Msg("agent replaced")
		old.ws.close(proto.CloseReplaced, "replaced by a new agent")
		h.broadcastState(id, proto.StateHostUnavailable, "the host agent was replaced")
	}
	h.agents[id] = a
	h.broadcastState(id, proto.StateHostAvailable, "")
	if s := h.sessions[id]; s != nil {
		for _, p := range s.peers {
			a.ws.send(joinMessage(p))
		}
	}
}

// removeAgent forgets a, unless it was already replaced, and tells the peers the host left.
func (h *hub) removeAgent(a *agent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	id := a.conn.ID
	if h.agents[id] != a {
		return
	}
	delete(h.agents, id)
	h.broadcastState(id, proto.StateHostUnavailable, "the host agent disconnected")
	h.noteIdle(id)
}

// dropAgent closes the agent of connection id, if one is connected, with code and reason, and
// tells the session's peers the host is unavailable.
func (h *hub) dropAgent(id store.ConnectionID, code int, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dropAgentLocked(id, code, reason) {
		h.broadcastState(id, proto.StateHostUnavailable, "the host agent was disconnected")
	}
}

func (h *hub) dropAgentLocked(id store.ConnectionID, code int, reason string) bool {
	a := h.agents[id]
	if a == nil {
		return false
	}
	delete(h.agents, id)
	a.ws.close(code, reason)
	h.noteIdle(id)
	return true
}

// removeConnection ends the live session of connection id, if any, with message, and
// closes its agent; it returns the ended session's id ("" if none was live). For a
// connection that was deleted.
func (h *hub) removeConnection(id store.ConnectionID, message string) SessionID {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropAgentLocked(id, websocket.CloseNormalClosure, "connection deleted")
	s := h.sessions[id]
	if s == nil {
		return ""
	}
	h.endLocked(s, message)
	return s.id
}

// liveSession returns the live session of connection id, or nil.
func (h *hub) liveSession(id store.ConnectionID) *session {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sessions[id]
}

// session returns live session id, or nil.
func (h *hub) session(id SessionID) *session {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.byID[id]
}

// addPeer adds p to its session, greets it with its identity, session and the host state,
// and announces it to the agent if one is online; the owner's arrival stops the grace
// timer. A peer of a link joins only while the link is known to the session, not revoked
// and, when maxGuests > 0, has fewer than maxGuests peers. Otherwise, or if the session
// ended meanwhile, p gets the ended state with the reason, its socket is closed and addPeer
// reports false.
func (h *hub) addPeer(p *peer, maxGuests int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.addPeerLocked(p, maxGuests)
}

// addPeerLocked is addPeer; callers hold h.mu. An owner or member also gets the waiting list,
// if anyone waits.
func (h *hub) addPeerLocked(p *peer, maxGuests int) bool {
	s := p.sess
	refuse := ""
	switch revoked, known := s.links[p.link]; {
	case s.ended:
		refuse = msgSessionEnded
	case p.link == 0:
	case !known || revoked:
		refuse = msgLinkRevoked
	case maxGuests > 0 && s.linkPeers(p.link) >= maxGuests:
		refuse = msgGuestLimit
	}
	if refuse != "" {
		endPeer(p, refuse)
		return false
	}
	s.peers[p.id] = p
	if p.owner() {
		h.stopGrace(s)
	}
	p.ws.send(proto.Message{
		Type:       proto.TypeHello,
		Identity:   &p.identity,
		ReadOnly:   p.readOnly,
		ICEServers: p.ice,
		Session:    s.info(),
		Nodes:      p.nodes,
	}.Encode())
	if a := h.agents[s.conn.ID]; a != nil {
		p.ws.send(stateMessage(proto.StateHostAvailable, ""))
		a.ws.send(joinMessage(p))
	} else {
		p.ws.send(stateMessage(proto.StateHostUnavailable, "the host agent is not connected"))
	}
	if len(s.waiting) > 0 && p.identity.Role != proto.RoleGuest {
		p.ws.send(waitingMessage(s))
	}
	return true
}

// removePeer forgets p, unless it was already disconnected, and tells the agent, if any,
// that it left.
func (h *hub) removePeer(p *peer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p.sess.peers[p.id] == p {
		h.dropLocked(p)
	}
	if w := p.sess.waiting[p.id]; w != nil && w.p == p { // it gave up waiting
		h.leaveRoomLocked(w)
	}
}

// disconnectLocked sends p the ended state with message, closes its socket and forgets it.
// Callers hold h.mu.
func (h *hub) disconnectLocked(p *peer, message string) {
	endPeer(p, message)
	h.dropLocked(p)
}

// dropLocked removes p from its session, tells the agent, and starts the grace timer when
// p was the owner's last peer of a session still live. Callers hold h.mu.
func (h *hub) dropLocked(p *peer) {
	s := p.sess
	delete(s.peers, p.id)
	if a := h.agents[s.conn.ID]; a != nil {
		a.ws.send(proto.Message{Type: proto.TypeLeave, Peer: string(p.id)}.Encode())
	}
	if p.owner() && !s.ended && !s.ownerPresent() {
		h.startGrace(s)
	}
}

// endPeer tells p why it is disconnected and closes its socket once that is sent.
func endPeer(p *peer, message string) {
	p.ws.send(stateMessage(proto.StateEnded, message))
	p.ws.close(websocket.CloseNormalClosure, "")
}

// addLink records that link id was made in live session sid, ending at expires (the zero time:
// with the session); false if the session is not live.
func (h *hub) addLink(sid SessionID, id store.LinkID, expires time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.byID[sid]
	if s == nil {
		return false
	}
	s.links[id] = false
	h.links[id] = s
	h.expireLink(s, id, expires)
	return true
}

// revokeLinks marks the links revoked, so that nobody joins through them any more, and
// disconnects their peers. Links of no live session are ignored.
func (h *hub) revokeLinks(ids ...store.LinkID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range ids {
		s := h.links[id]
		if s == nil {
			continue
		}
		s.links[id] = true
		h.stopExpiry(s, id)
		for _, p := range s.peers {
			if p.link == id {
				h.disconnectLocked(p, msgLinkRevoked)
			}
		}
		for _, w := range s.waiting {
			if w.p.link == id {
				h.leaveRoomLocked(w)
				endPeer(w.p, msgLinkRevoked)
			}
		}
	}
}

// closeLogin disconnects, with message, every peer that came with login session login (a
// loginRef): its user logged out.
func (h *hub) closeLogin(login, message string) {
	if login == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.sessions {
		for _, p := range s.peers {
			if p.login == login {
				h.disconnectLocked(p, message)
			}
		}
	}
}

// closeUser disconnects, with message, every peer of user but those that came with login
// session keep (a loginRef, or ""): in every live session, or in connection conn's only if
// conn is not 0. Its account was deleted, its password reset, or a grant revoked.
func (h *hub) closeUser(user store.UserID, conn store.ConnectionID, keep, message string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.sessions {
		if conn != 0 && s.conn.ID != conn {
			continue
		}
		for _, p := range s.peers {
			if p.user == user && (keep == "" || p.login != keep) {
				h.disconnectLocked(p, message)
			}
		}
	}
}

// linkFull reports whether link id of session s has maxGuests peers or more (never when
// maxGuests is 0).
func (h *hub) linkFull(s *session, id store.LinkID, maxGuests int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maxGuests > 0 && s.linkPeers(id) >= maxGuests
}

// linkGuests counts the peers on each link of live session sid.
func (h *hub) linkGuests(sid SessionID) map[store.LinkID]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := make(map[store.LinkID]int)
	if s := h.byID[sid]; s != nil {
		for _, p := range s.peers {
			if p.link != 0 {
				n[p.link]++
			}
		}
	}
	return n
}

// membership is how a user takes part in a live session.
type membership struct {
	conn  store.Connection
	owner store.UserID
	// direct: the user has a peer on it through the connection; viaLink: through a link.
	direct, viaLink bool
}

// membership returns how user takes part in live session sid; false if it is not live.
func (h *hub) membership(sid SessionID, user store.UserID) (membership, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.byID[sid]
	if s == nil {
		return membership{}, false
	}
	m := membership{conn: s.conn, owner: s.owner}
	for _, p := range s.peers {
		if p.user == user && user != 0 {
			m.direct = m.direct || p.link == 0
			m.viaLink = m.viaLink || p.link != 0
		}
	}
	return m, true
}

// broadcastState sends a state message to every peer of connection id. Callers hold h.mu.
func (h *hub) broadcastState(id store.ConnectionID, state, message string) {
	s := h.sessions[id]
	if s == nil {
		return
	}
	frame := stateMessage(state, message)
	for _, p := range s.peers {
		p.ws.send(frame)
	}
}

func stateMessage(state, message string) []byte {
	return proto.Message{Type: proto.TypeState, State: state, Message: message}.Encode()
}

func joinMessage(p *peer) []byte {
	return proto.Message{Type: proto.TypeJoin, Peer: string(p.id), Identity: &p.identity, ReadOnly: p.readOnly, AskControl: p.askControl,
		RecordKeys: p.recordKeys}.Encode()
}
