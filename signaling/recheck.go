package signaling

import (
	"context"
	"errors"

	"peerdesk/signaling/proto"
	"peerdesk/store"
)

// recheck checks this node's participants and agents against the store, as the other nodes'
// hub operations would have: a cluster node runs it when it is back on NATS, which lost what
// was published meanwhile. Peers of deleted users, and peers through a connection whose user
// may no longer use it, are disconnected; links revoked or deleted are revoked; sessions of
// deleted connections end; agents whose token was regenerated are closed. A logout missed
// meanwhile is not made up for (a login's end leaves no trace to tell a logout from its
// expiry, which never disconnects): its sockets here last until they close.
func (s *Server) recheck(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 3*storeTimeout)
	defer cancel()
	peers, agents, links, conns := s.hub.recheckable()
	users := make(map[store.UserID]store.User) // one lookup each
	for _, p := range peers {
		if p.user == 0 {
			continue // a guest: its link is checked below
		}
		u, seen := users[p.user]
		if !seen {
			var err error
			if u, err = s.store.User(ctx, p.user); err != nil && !errors.Is(err, store.ErrNotFound) {
				s.log.Error().Err(err).Msg("re-check a user")
				continue
			}
			users[p.user] = u
		}
		switch {
		case u.ID == 0:
			s.hub.disconnect(p, msgAccountDeleted)
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
			s.hub.dropAgentIf(a, proto.CloseTokenRevoked, "agent token regenerated")
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

// dropAgentIf closes agent a, if it is still its connection's, as dropAgent does.
func (h *hub) dropAgentIf(a *agent, code int, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.agents[a.conn.ID] == a && h.dropAgentLocked(a.conn.ID, code, reason) {
		h.broadcastState(a.conn.ID, proto.StateHostUnavailable, "the host agent was disconnected")
	}
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
