package signaling

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"peerdesk/signaling/proto"
	"peerdesk/store"
)

// handleAgentWS authenticates a relay agent by its bearer token and serves its WebSocket.
func (s *Server) handleAgentWS(w http.ResponseWriter, r *http.Request) {
	if !s.allowRequest(w, r, http.MethodGet) {
		return
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		writeError(w, http.StatusUnauthorized, "agent token required")
		return
	}
	conn, err := s.store.ConnectionByAgentToken(r.Context(), token)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusUnauthorized, "invalid agent token")
		return
	}
	if err != nil {
		s.internalError(w, "look up agent token", err)
		return
	}
	log := s.log.With().Str("side", "agent").Int64("connection", int64(conn.ID)).Logger()
	s.serveWS(w, r, log, func(ws *wsConn) {
		a := &agent{conn: conn, ws: ws}
		s.hub.addAgent(a)
		defer s.hub.removeAgent(a)
		log.Info().Msg("agent connected")
		ws.serve(func(m proto.Message) *refusal { return s.hub.agentMessage(a, m) })
		log.Info().Msg("agent disconnected")
	})
}

// handlePeerWS authenticates a user by the login cookie, checks the Origin and the user's
// permission on the connection, and serves the peer's WebSocket.
func (s *Server) handlePeerWS(w http.ResponseWriter, r *http.Request) {
	if !s.allowRequest(w, r, http.MethodGet) {
		return
	}
	user, ok := s.requireUser(w, r)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.URL.Query().Get("connection"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, "connection must be a positive integer")
		return
	}
	connID := store.ConnectionID(id)
	allowed, err := s.store.CanUse(r.Context(), user, connID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "no such connection")
		return
	case err != nil:
		s.internalError(w, "check permission", err)
		return
	case !allowed:
		writeError(w, http.StatusForbidden, "no permission for this connection")
		return
	}
	pid := newPeerID()
	log := s.log.With().Str("side", "peer").Str("peer", string(pid)).Int64("connection", id).Str("user", user.Username).Logger()
	s.serveWS(w, r, log, func(ws *wsConn) {
		p := s.hub.addPeer(pid, connID, user, ws)
		defer s.hub.removePeer(p)
		log.Info().Str("role", p.identity.Role).Msg("peer connected")
		ws.serve(func(m proto.Message) *refusal { return s.hub.peerMessage(p, m) })
		log.Info().Msg("peer disconnected")
	})
}

// serveWS upgrades the request and runs run with the new connection, tracked so that
// Close can end it. run returns when the connection is over.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request, log zerolog.Logger, run func(*wsConn)) {
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered the request
	}
	ws := newWSConn(conn, log)
	if !s.track(ws) {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(closeTimeout))
		_ = conn.Close()
		return
	}
	defer s.untrack(ws)
	run(ws)
}
