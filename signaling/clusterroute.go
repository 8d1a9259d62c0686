package signaling

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"peerdesk/store"
)

// Which node serves a request: the home of the connection or the node of the live session it
// is about; every other request is served where it arrives.

// route serves r on the node that holds what it is about, forwarding it there if that is
// another node. A node that does not answer has failed: its sessions end and the request is
// placed again (on this node, for a connection whose home it was).
func (c *cluster) route(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/share" && c.shareCORS(w, r) {
			return
		}
		var body []byte // read once, for every try
		for range 3 {
			node, read, err := c.target(r)
			if err != nil {
				c.s.internalError(w, "place a request on a node", err)
				return
			}
			if read != nil {
				body = read
			}
			if node == "" || node == c.self.Node {
				if body != nil {
					r.Body = io.NopCloser(bytes.NewReader(body))
				}
				next.ServeHTTP(w, r)
				return
			}
			if body == nil && r.Body != nil {
				if body, err = io.ReadAll(io.LimitReader(r.Body, maxBody+1)); err != nil {
					writeError(w, http.StatusBadRequest, "request body unreadable")
					return
				}
			}
			switch c.forward(w, r, node, body) {
			case fwdDone:
				return
			case fwdNoNode:
				if !c.nodeLost(node) {
					writeError(w, http.StatusServiceUnavailable, "the server node of this session cannot be reached now; try again")
					return
				}
			case fwdMoved:
			}
		}
		writeError(w, http.StatusServiceUnavailable, "the session moved between server nodes; try again")
	})
}

// shareCORS lets the pages of the cluster's other nodes look share keys up here (a page whose
// own node failed asks the node it reconnects to whether its link still works): it sets the
// CORS headers for such an origin, and answers its preflight (true).
func (c *cluster) shareCORS(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || !c.allowsOrigin(strings.ToLower(origin)) {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	if r.Method != http.MethodOptions {
		return false
	}
	h.Set("Access-Control-Allow-Methods", http.MethodPost)
	h.Set("Access-Control-Allow-Headers", "Content-Type")
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return true
}

// target returns the node that serves r, "" for this one, and r's body if it had to read it.
func (c *cluster) target(r *http.Request) (node string, body []byte, err error) {
	ctx, path := r.Context(), r.URL.Path
	switch {
	case path == "/ws/agent":
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" {
			return "", nil, nil
		}
		if _, ok := c.s.agentDials.check(c.s.clientAddr(r)); !ok {
			return "", nil, nil // throttled here, before any lookup
		}
		conn, err := c.s.store.ConnectionByAgentToken(ctx, token)
		if errors.Is(err, store.ErrNotFound) {
			return "", nil, nil // refused here, throttled
		}
		if err != nil {
			return "", nil, err
		}
		node, err := c.homeOf(ctx, conn.ID)
		return node, nil, err
	case path == "/ws/peer":
		q := r.URL.Query()
		switch {
		case q.Has("record"):
			return "", nil, nil
		case q.Has("share"):
			node, err := c.shareNode(r, q.Get("share"))
			return node, nil, err
		}
		id, err := strconv.ParseInt(q.Get("connection"), 10, 64)
		if err != nil || id <= 0 {
			return "", nil, nil
		}
		if _, ok := c.s.joins.check(c.s.clientAddr(r)); !ok {
			return "", nil, nil // throttled here: no claim for it
		}
		user, err := c.s.optionalUser(r)
		if err != nil || user.ID == 0 {
			return "", nil, err // refused here: nobody claims a home for a stranger
		}
		if may, err := c.s.store.CanUse(ctx, user, store.ConnectionID(id)); err != nil || !may {
			return "", nil, err // refused here: nor for a connection the user may not use
		}
		node, err := c.homeOf(ctx, store.ConnectionID(id))
		return node, nil, err
	case strings.HasPrefix(path, "/s/"):
		node, err := c.shareNode(r, strings.TrimPrefix(path, "/s/"))
		return node, nil, err
	case path == "/api/share" && r.Method == http.MethodPost:
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			return "", nil, err
		}
		var req shareRequest
		if json.Unmarshal(body, &req) != nil {
			return "", body, nil // refused here
		}
		node, err := c.shareNode(r, req.Key)
		return node, body, err
	case strings.HasPrefix(path, "/api/sessions/"):
		sid, _, _ := strings.Cut(strings.TrimPrefix(path, "/api/sessions/"), "/")
		node, err := c.sessionNode(ctx, sid)
		return node, nil, err
	case strings.HasPrefix(path, "/api/links/"):
		id, err := strconv.ParseInt(strings.TrimPrefix(path, "/api/links/"), 10, 64)
		if err != nil || id <= 0 {
			return "", nil, nil
		}
		link, err := c.s.store.ShareLink(ctx, store.LinkID(id))
		if errors.Is(err, store.ErrNotFound) {
			return "", nil, nil
		}
		if err != nil {
			return "", nil, err
		}
		node, err := c.sessionNode(ctx, link.SessionID)
		return node, nil, err
	}
	return "", nil, nil
}

// homeOf returns the home node of connection id, making this node its home if it has none;
// "" for an unknown connection.
func (c *cluster) homeOf(ctx context.Context, id store.ConnectionID) (string, error) {
	home, err := c.s.store.ClaimHome(ctx, id, c.self.Node)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	return home, err
}

// sessionNode returns the node running live session sid; "" if it is not live.
func (c *cluster) sessionNode(ctx context.Context, sid string) (string, error) {
	node, live, err := c.s.store.LiveSessionNode(ctx, sid)
	if errors.Is(err, store.ErrNotFound) || !live {
		return "", nil
	}
	return node, err
}

// shareNode returns the node running the live session of share key key; "" for an invalid key,
// or a client throttled for its invalid keys (refused here).
func (c *cluster) shareNode(r *http.Request, key string) (string, error) {
	if _, ok := c.s.throttle.check(c.s.clientAddr(r)); !ok {
		return "", nil
	}
	ctx := r.Context()
	link, _, err := c.s.store.ShareLinkByKey(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return c.sessionNode(ctx, link.SessionID)
}

// atHome reports whether this node is the home of connection id, claiming it if no node is;
// otherwise it answers statusMoved (a front then looks the home up again). The caller calls
// arrived once its socket is over: until then the home is not released.
func (s *Server) atHome(w http.ResponseWriter, r *http.Request, id store.ConnectionID) (arrived func(), ok bool) {
	if s.cluster == nil {
		return func() {}, true
	}
	arrived = s.hub.arrive(id) // before the claim: a release then sees it
	home, err := s.store.ClaimHome(r.Context(), id, s.cluster.self.Node)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return arrived, true // the handler says so
	case err != nil:
		arrived()
		s.internalError(w, "claim a connection's home", err)
		return nil, false
	case home != s.cluster.self.Node:
		arrived()
		writeError(w, statusMoved, "another server node serves this connection")
		return nil, false
	}
	return arrived, true
}
