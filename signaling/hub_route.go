package signaling

import (
	"github.com/gorilla/websocket"

	"peerdesk/signaling/proto"
)

// peerMessage routes a frame from peer p to its connection's agent.
func (h *hub) peerMessage(p *peer, m proto.Message) *refusal {
	switch m.Type {
	case proto.TypeOffer, proto.TypeCandidate:
	case proto.TypeAdmit:
		return h.admit(p, PeerID(m.Peer), m.Allow)
	case proto.TypeError:
		h.log.Debug().Str("peer", string(p.id)).Str("code", m.Code).Msg("error from peer")
		return nil // never answer an error with an error
	default:
		return &refusal{proto.CodeUnknownType, "this message type is not accepted from a peer"}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if p.sess.peers[p.id] != p {
		return nil // p was disconnected and is closing
	}
	a := h.agents[p.sess.conn.ID]
	if a == nil {
		if m.Type == proto.TypeOffer {
			return &refusal{proto.CodeHostUnavailable, "the host agent is not connected"}
		}
		return nil // a late candidate of a peer connection that is gone
	}
	frame := proto.Message{Type: m.Type, Peer: string(p.id), SDP: m.SDP, Candidate: m.Candidate}.Encode()
	if len(frame) > proto.MaxMessage {
		return &refusal{proto.CodeBadMessage, "message too large once re-encoded"}
	}
	if !a.ws.trySend(frame) {
		// The agent's queue is full: this peer, not the agent, pays for it.
		h.log.Warn().Str("peer", string(p.id)).Msg("agent queue full: peer disconnected")
		h.overBudget.Add(1)
		disconnectRateLimited(p.ws, "the host cannot take more signaling now")
	}
	return nil
}

// disconnectRateLimited tells a peer it sent too much, and closes its socket once that is sent.
func disconnectRateLimited(ws conn, message string) {
	ws.send(proto.Message{Type: proto.TypeError, Code: proto.CodeRateLimited, Message: message}.Encode())
	ws.close(websocket.ClosePolicyViolation, "over its signaling budget")
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
	var p *peer
	if s := h.sessions[a.conn.ID]; s != nil {
		p = s.peers[PeerID(m.Peer)]
	}
	if p == nil {
		return &refusal{proto.CodeUnknownPeer, "no such peer on this connection"}
	}
	return forward(p.ws, proto.Message{Type: m.Type, SDP: m.SDP, Candidate: m.Candidate, Code: m.Code, Message: m.Message})
}

// forward sends a message built from another side's frame. The frame was at most
// proto.MaxMessage, but re-encoding can grow it (JSON escapes '<' as \u003c), and the
// receiver would be cut off by its read limit: such a frame is refused instead.
func forward(to conn, m proto.Message) *refusal {
	frame := m.Encode()
	if len(frame) > proto.MaxMessage {
		return &refusal{proto.CodeBadMessage, "message too large once re-encoded"}
	}
	to.send(frame)
	return nil
}
