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
	if s.refuseDraining(w) {
		return
	}
	if retry, ok := s.agentDials.check(s.clientAddr(r)); !ok {
		s.counters.agentsThrottled.Add(1)
		writeThrottled(w, retry, "too many agent connections from this address; try again in a moment")
		return
	}
	s.agentDials.miss(s.clientAddr(r))
	conn, err := s.store.ConnectionByAgentToken(r.Context(), token)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusUnauthorized, "invalid agent token")
		return
	}
	if err != nil {
		s.internalError(w, "look up agent token", err)
		return
	}
	arrived, ok := s.atHome(w, r, conn.ID)
	if !ok {
		return
	}
	defer arrived()
	log := s.log.With().Str("side", "agent").Int64("connection", int64(conn.ID)).Logger()
	s.serveWS(w, r, log, agentQueueLen, func(ws *wsConn) {
		identity := agentICEIdentity(int64(conn.ID))
		ice, expires := s.iceServers(identity)
		a := &agent{conn: conn, ws: ws, ice: ice, token: token}
		s.hub.addAgent(a)
		defer s.hub.removeAgent(a)
		defer s.refreshICE(ws.ctx, ws, identity, expires)()
		log.Info().Msg("agent connected")
		ws.serve(func(m proto.Message) *refusal { return s.hub.agentMessage(a, m) })
		log.Info().Msg("agent disconnected")
	})
}

// handlePeerWS checks the Origin and serves a peer's WebSocket: one that joins through a
// share key (?share=) or, with the login cookie of a user permitted on it, through a
// connection (?connection=), starting its live session if none is. A user or address over
// its cap of open peer sockets gets 429 (see acquirePeer).
func (s *Server) handlePeerWS(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("record") {
		if s.allowRequest(w, r, http.MethodGet) {
			s.handleRecorderWS(w, r) // charged to nobody
		}
		return
	}
	if s.refuseDraining(w) || !s.allowRequest(w, r, http.MethodGet) || !s.allowJoin(w, r) {
		return
	}
	if r.URL.Query().Has("share") {
		s.handleShareWS(w, r)
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
	if !s.checkUse(w, r, user, connID) {
		return
	}
	arrived, ok := s.atHome(w, r, connID)
	if !ok {
		return
	}
	defer arrived()
	release, ok := s.acquirePeer(w, r, user.ID)
	if !ok {
		return
	}
	defer release()
	sess, err := s.openSession(r.Context(), connID, user)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no such connection") // deleted meanwhile
		return
	}
	if err != nil {
		s.internalError(w, "open live session", err)
		return
	}
	role := proto.RoleMember
	if user.ID == sess.owner {
		role = proto.RoleOwner
	}
	p := &peer{id: newPeerID(), sess: sess, user: user.ID, login: requestLogin(r), identity: proto.Identity{Name: user.Username, Role: role}}
	log := s.log.With().Str("side", "peer").Str("peer", string(p.id)).Int64("connection", id).
		Str("session", string(sess.id)).Str("user", user.Username).Logger()
	s.servePeer(w, r, log, p, 0, release)
}

// allowJoin charges a peer socket to its client address, which may open joinsPerAddress of
// them, then one every joinWindow/joinsPerAddress: each is a history row and a join at the
// agent. Beyond it the client gets 429 with Retry-After.
func (s *Server) allowJoin(w http.ResponseWriter, r *http.Request) bool {
	done, retry, ok := s.joins.attempt(s.clientAddr(r))
	if !ok {
		s.counters.joinsThrottled.Add(1)
		writeThrottled(w, retry, msgTooManyJoins)
		return false
	}
	done(true)
	return true
}

// handleShareWS serves the WebSocket of a peer joining through a share key: as a member
// under its username with a valid login cookie, as a guest otherwise — under the name it
// gives (?name=, guestIdentityName) or as Anonymous — read-only if the link's profile says so;
// with the link's passcode (?passcode=) if it has one; and claiming a single-use link.
func (s *Server) handleShareWS(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get("share")
	sh, err := s.lookupShare(r.Context(), r, key)
	if err != nil {
		s.writeShareError(w, err)
		return
	}
	if s.hub.linkFull(sh.sess, sh.link.ID, sh.profile.MaxGuests) {
		writeError(w, http.StatusConflict, msgGuestLimit)
		return
	}
	if err := s.checkPasscode(r, sh, key, r.URL.Query().Get("passcode")); err != nil {
		s.writeShareError(w, err)
		return
	}
	name, err := guestIdentityName(r.URL.Query().Get("name"))
	if err != nil {
		writeFieldError(w, http.StatusBadRequest, "name", err.Error())
		return
	}
	p := &peer{id: newPeerID(), sess: sh.sess, link: sh.link.ID, profile: sh.profile.Name, readOnly: sh.profile.ReadOnly,
		identity: proto.Identity{Name: name, Role: proto.RoleGuest}}
	user, err := s.optionalUser(r)
	if err != nil {
		s.internalError(w, "look up login session", err)
		return
	}
	if user.ID != 0 {
		p.user, p.login, p.identity = user.ID, requestLogin(r), proto.Identity{Name: user.Username, Role: proto.RoleMember}
	}
	p.waits = sh.profile.Admit && p.user == 0 // users of the server need no admission
	p.askControl = sh.profile.AskControl && !p.readOnly
	release, ok := s.acquirePeer(w, r, p.user)
	if !ok {
		return
	}
	defer release()
	if sh.link.SingleUse { // one join, this one, or none if another got there first
		switch err := s.store.ClaimShareLink(r.Context(), sh.link.ID); {
		case errors.Is(err, store.ErrNotFound):
			writeError(w, http.StatusNotFound, msgInvalidLink)
			return
		case err != nil:
			s.internalError(w, "claim share link", err)
			return
		}
	}
	log := s.log.With().Str("side", "peer").Str("peer", string(p.id)).Int64("connection", int64(sh.sess.conn.ID)).
		Str("session", string(sh.sess.id)).Int64("link", int64(sh.link.ID)).Str("user", p.identity.Name).Logger()
	s.servePeer(w, r, log, p, sh.profile.MaxGuests, release)
}

// servePeer upgrades the request and runs peer p on its session until it leaves; a peer
// the session refuses (see hub.addPeer) only gets the reason before its socket closes. The
// history records the participant from the accepted WebSocket to its close. release frees
// p's socket slot (see acquirePeer) once the socket is closed, before the agent hears of
// the leave; the caller calls it too, for a request that was never upgraded.
func (s *Server) servePeer(w http.ResponseWriter, r *http.Request, log zerolog.Logger, p *peer, maxGuests int, release func()) {
	s.serveWS(w, r, log, sendQueueLen, func(ws *wsConn) {
		p.ws = ws
		var rec store.ParticipantRecordID // the recorder is not a participant of the history
		if p.identity.Role != proto.RoleRecorder {
			rec = s.recordJoin(r.Context(), p, s.remoteIP(r), log)
		}
		var expires time.Time
		iceID := peerICEIdentity(p, s.clientAddr(r))
		if p.identity.Role == proto.RoleRecorder {
			// No TURN credentials of its own: it reaches the agent's candidates, relayed ones
			// included, from the server's host.
			p.ice = s.iceStatic
		} else {
			p.ice, expires = s.iceServers(iceID)
			p.nodes = s.cluster.origins()
			defer s.endICE(iceID) // its TURN allocations end with its socket, on every node
		}
		var added bool
		if p.waits {
			added = s.hub.addWaiting(p, s.remoteIP(r), maxGuests)
		} else {
			added = s.hub.addPeer(p, maxGuests)
		}
		if added && p.identity.Role != proto.RoleRecorder {
			s.counters.joins.Add(1)
			s.tellDraining(p) // it got past the check as the drain began
		}
		if !added {
			log.Info().Msg("peer refused")
			s.recordLeave(rec, log)
			ws.serve(func(proto.Message) *refusal { return nil })
			return
		}
		defer s.hub.removePeer(p)
		defer s.recordLeave(rec, log) // before the agent hears of the leave
		defer s.refreshICE(ws.ctx, ws, iceID, expires)()
		defer release() // the socket is closed: free its slot before the agent hears of the leave
		log.Info().Str("role", p.identity.Role).Bool("read_only", p.readOnly).Msg("peer connected")
		b, over := newSignalBudget(), false
		ws.serve(func(m proto.Message) *refusal {
			if over {
				return nil // closing: what it still sent is dropped
			}
			if what := b.spend(m, time.Now()); what != "" {
				over = true
				s.counters.overBudget.Add(1)
				s.noisy.Warn().Str("peer", string(p.id)).Str("budget", what).Msg("peer over its signaling budget: disconnected")
				disconnectRateLimited(ws, "too many "+what+" from this peer")
				return nil
			}
			return s.hub.peerMessage(p, m)
		})
		log.Info().Msg("peer disconnected")
	})
}

// serveWS upgrades the request and runs run with the new connection (queue frames of send
// queue), tracked so that Close can end it. run returns when the connection is over.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request, log zerolog.Logger, queue int, run func(*wsConn)) {
	conn, err := s.upgrade(w, r)
	if err != nil {
		return // the upgrader has answered the request
	}
	ws := newWSConn(conn, log, queue)
	if !s.track(ws) {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(closeTimeout))
		_ = conn.Close()
		return
	}
	defer s.untrack(ws)
	run(ws)
}
