package signaling

import (
	"context"
	"errors"

	"peerdesk/signaling/proto"
	"peerdesk/store"
)

// msgLoginEnded tells a participant found, on a re-check, without its login session.
const msgLoginEnded = "Your login ended; log in again"

// recheck checks this node's participants and agents against the store, as the other nodes'
// hub operations would have: a cluster node runs it when it is back on NATS, which lost what
// was published meanwhile. Peers whose login ended or whose grant went are disconnected,
// links revoked or deleted are revoked, sessions of deleted connections end, and agents
// whose token was regenerated are closed.
func (s *Server) recheck() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*storeTimeout)
	defer cancel()
	peers, agents, links, conns := s.hub.recheckable()
	users := make(map[string]store.User) // by login token: one lookup each
	for _, p := range peers {
		if p.token == "" {
			continue
		}
		u, seen := users[p.token]
		if !seen {
			var err error
			if u, err = s.store.UserBySessionToken(ctx, p.token); err != nil && !errors.Is(err, store.ErrNotFound) {
				s.log.Error().Err(err).Msg("re-check a login")
				continue
			}
			users[p.token] = u
		}
		switch {
		case u.ID == 0:
			msg := msgLoginEnded // logged out, or its password changed
			if _, err := s.store.User(ctx, p.user); errors.Is(err, store.ErrNotFound) {
				msg = msgAccountDeleted
			}
			s.hub.disconnect(p, msg)
		case p.link == 0 && !u.Admin:
			if may, err := s.store.CanUse(ctx, u, p.sess.conn.ID); err == nil && !may {
				s.hub.disconnect(p, msgAccessRevoked)
			}
		}
	}
	for _, id := range links {
		l, err := s.store.ShareLink(ctx, id)
		if errors.Is(err, store.ErrNotFound) || err == nil && !l.RevokedAt.IsZero() {
			s.hub.revokeLinks(id)
		}
	}
	for _, id := range conns {
		if _, err := s.store.Connection(ctx, id); errors.Is(err, store.ErrNotFound) {
			s.hub.removeConnection(id, msgSessionEnded)
		}
	}
	for _, a := range agents {
		if c, err := s.store.ConnectionByAgentToken(ctx, a.token); errors.Is(err, store.ErrNotFound) || err == nil && c.ID != a.conn.ID {
			s.hub.dropAgent(a.conn.ID, proto.CloseTokenRevoked, "agent token regenerated")
		}
	}
	s.log.Info().Int("peers", len(peers)).Int("agents", len(agents)).Msg("re-checked this node's participants against the store")
}

// recheckable returns what recheck looks at: every peer, agent, link not revoked, and
// connection with a session or an agent.
func (h *hub) recheckable() (peers []*peer, agents []*agent, links []store.LinkID, conns []store.ConnectionID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, a := range h.agents {
		agents = append(agents, a)
		if h.sessions[id] == nil {
			conns = append(conns, id)
		}
	}
	for id, s := range h.sessions {
		conns = append(conns, id)
		for _, p := range s.peers {
			peers = append(peers, p)
		}
		for l, revoked := range s.links {
			if !revoked {
				links = append(links, l)
			}
		}
	}
	return peers, agents, links, conns
}

// disconnect sends p the ended state with message and closes it, if it is still on its
// session.
func (h *hub) disconnect(p *peer, message string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p.sess.peers[p.id] == p {
		h.disconnectLocked(p, message)
	}
}
