package signaling

import (
	"crypto/rand"
	"encoding/base64"
	"sync"

	"github.com/rs/zerolog"

	"peerdesk/signaling/proto"
	"peerdesk/store"
)

// PeerID identifies one peer WebSocket: server-assigned, opaque, unique per process.
type PeerID string

// newPeerID returns a random PeerID of 128 bits.
func newPeerID() PeerID {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return PeerID(base64.RawURLEncoding.EncodeToString(b[:]))
}

// agent is the relay agent serving one connection.
type agent struct {
	conn store.Connection
	ws   *wsConn
}

// peer is one participant's WebSocket on a connection.
type peer struct {
	id       PeerID
	connID   store.ConnectionID
	identity proto.Identity
	readOnly bool
	ws       *wsConn
}

// hub routes signaling messages between the peers of a connection and its agent. Every
// send only queues (wsConn.send never blocks), so the hub sends while holding its lock,
// which keeps each agent's view ordered: hello, then a peer's join, then its offer.
type hub struct {
	log        zerolog.Logger
	iceServers []proto.ICEServer

	mu     sync.Mutex
	agents map[store.ConnectionID]*agent
	peers  map[store.ConnectionID]map[PeerID]*peer
}

func newHub(log zerolog.Logger, iceServers []proto.ICEServer) *hub {
	return &hub{
		log:        log,
		iceServers: iceServers,
		agents:     make(map[store.ConnectionID]*agent),
		peers:      make(map[store.ConnectionID]map[PeerID]*peer),
	}
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
	}.Encode())
	if old := h.agents[id]; old != nil {
		h.log.Info().Int64("connection", int64(id)).Msg("agent replaced")
		old.ws.close(proto.CloseReplaced, "replaced by a new agent")
		h.broadcastState(id, proto.StateHostUnavailable, "the host agent was replaced")
	}
	h.agents[id] = a
	h.broadcastState(id, proto.StateHostAvailable, "")
	for _, p := range h.peers[id] {
		a.ws.send(joinMessage(p))
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
}

// addPeer registers peer pid of connection id for user, greets it with its identity and
// the host state, and announces it to the agent if one is online. The first peer of a
// connection with nobody else on it is its owner; later ones are members.
func (h *hub) addPeer(pid PeerID, id store.ConnectionID, user store.User, ws *wsConn) *peer {
	h.mu.Lock()
	defer h.mu.Unlock()
	group := h.peers[id]
	if group == nil {
		group = make(map[PeerID]*peer)
		h.peers[id] = group
	}
	role := proto.RoleMember
	if len(group) == 0 {
		role = proto.RoleOwner
	}
	p := &peer{
		id:       pid,
		connID:   id,
		identity: proto.Identity{Name: user.Username, Role: role},
		ws:       ws,
	}
	group[p.id] = p
	ws.send(proto.Message{
		Type:       proto.TypeHello,
		Identity:   &p.identity,
		ReadOnly:   p.readOnly,
		ICEServers: h.iceServers,
	}.Encode())
	if a := h.agents[id]; a != nil {
		ws.send(stateMessage(proto.StateHostAvailable, ""))
		a.ws.send(joinMessage(p))
	} else {
		ws.send(stateMessage(proto.StateHostUnavailable, "the host agent is not connected"))
	}
	return p
}

// removePeer forgets p and tells the agent, if any, that it left.
func (h *hub) removePeer(p *peer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	group := h.peers[p.connID]
	delete(group, p.id)
	if len(group) == 0 {
		delete(h.peers, p.connID)
	}
	if a := h.agents[p.connID]; a != nil {
		a.ws.send(proto.Message{Type: proto.TypeLeave, Peer: string(p.id)}.Encode())
	}
}

// peerMessage routes a frame from peer p to its connection's agent.
func (h *hub) peerMessage(p *peer, m proto.Message) *refusal {
	switch m.Type {
	case proto.TypeOffer, proto.TypeCandidate:
	case proto.TypeError:
		h.log.Debug().Str("peer", string(p.id)).Str("code", m.Code).Msg("error from peer")
		return nil // never answer an error with an error
	default:
		return &refusal{proto.CodeUnknownType, "this message type is not accepted from a peer"}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	a := h.agents[p.connID]
	if a == nil {
		if m.Type == proto.TypeOffer {
			return &refusal{proto.CodeHostUnavailable, "the host agent is not connected"}
		}
		return nil // a late candidate of a peer connection that is gone
	}
	return forward(a.ws, proto.Message{Type: m.Type, Peer: string(p.id), SDP: m.SDP, Candidate: m.Candidate})
}

// agentMessage routes a frame from agent a to one peer of its connection.
func (h *hub) agentMessage(a *agent, m proto.Message) *refusal {
	switch m.Type {
	case proto.TypeAnswer, proto.TypeCandidate, proto.TypeError:
	default:
		return &refusal{proto.CodeUnknownType, "this message type is not accepted from an agent"}
	}
	if m.Peer == "" {
		if m.Type == proto.TypeError {
			h.log.Warn().Int64("connection", int64(a.conn.ID)).Str("code", m.Code).Msg("error from agent")
			return nil // never answer an error with an error
		}
		return &refusal{proto.CodeBadMessage, m.Type + " without peer"}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.agents[a.conn.ID] != a {
		return nil // a was replaced and is closing
	}
	p := h.peers[a.conn.ID][PeerID(m.Peer)]
	if p == nil {
		return &refusal{proto.CodeUnknownPeer, "no such peer on this connection"}
	}
	return forward(p.ws, proto.Message{Type: m.Type, SDP: m.SDP, Candidate: m.Candidate, Code: m.Code, Message: m.Message})
}

// forward sends a message built from another side's frame. The frame was at most
// proto.MaxMessage, but re-encoding can grow it (JSON escapes '<' as \u003c), and the
// receiver would be cut off by its read limit: such a frame is refused instead.
func forward(to *wsConn, m proto.Message) *refusal {
	frame := m.Encode()
	if len(frame) > proto.MaxMessage {
		return &refusal{proto.CodeBadMessage, "message too large once re-encoded"}
	}
	to.send(frame)
	return nil
}

// broadcastState sends a state message to every peer of connection id. Callers hold h.mu.
func (h *hub) broadcastState(id store.ConnectionID, state, message string) {
	frame := stateMessage(state, message)
	for _, p := range h.peers[id] {
		p.ws.send(frame)
	}
}

func stateMessage(state, message string) []byte {
	return proto.Message{Type: proto.TypeState, State: state, Message: message}.Encode()
}

func joinMessage(p *peer) []byte {
	return proto.Message{Type: proto.TypeJoin, Peer: string(p.id), Identity: &p.identity, ReadOnly: p.readOnly}.Encode()
}
