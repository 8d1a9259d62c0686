package signaling

import (
	"errors"
	"io/fs"
	"net/http"
	"time"

	"peerdesk/store"
)

type linkProfile struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	ReadOnly bool   `json:"readOnly"`
}

// linkInfo is what the API tells of every link.
type linkInfo struct {
	ID        int64       `json:"id"`
	Profile   linkProfile `json:"profile"`
	CreatedAt time.Time   `json:"createdAt"`
	ExpiresAt *time.Time  `json:"expiresAt"` // null: until the session ends
	Protected bool        `json:"protected"` // joining needs its passcode
	SingleUse bool        `json:"singleUse"`
}

func newLinkInfo(l store.ShareLink, p store.SharingProfile) linkInfo {
	return linkInfo{
		ID:        int64(l.ID),
		Profile:   linkProfile{ID: int64(p.ID), Name: p.Name, ReadOnly: p.ReadOnly},
		CreatedAt: l.CreatedAt,
		ExpiresAt: optionalTime(l.ExpiresAt),
		Protected: l.Protected,
		SingleUse: l.SingleUse,
	}
}

// newLinkReply is a link just made: the one time its URL, with the key, and its passcode are
// shown.
type newLinkReply struct {
	linkInfo
	URL      string `json:"url"`
	Passcode string `json:"passcode,omitempty"`
}

// linkReply is a link as listed: no key, but its state and guests.
type linkReply struct {
	linkInfo
	RevokedAt *time.Time `json:"revokedAt"` // null: not revoked
	UsedAt    *time.Time `json:"usedAt"`    // null: a single-use link not used yet, or not single use
	Guests    int        `json:"guests"`    // participants on it now
}

type linkRequest struct {
	Profile int64 `json:"profile"`
}

type shareRequest struct {
	Key      string `json:"key"`
	Passcode string `json:"passcode"` // checked if given: the page asks before joining
}

type shareReply struct {
	Session    string          `json:"session"`
	Connection shareConnection `json:"connection"`
	ReadOnly   bool            `json:"readOnly"`
	Passcode   bool            `json:"passcode"` // joining needs the link's passcode
}

type shareConnection struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// optionalTime is t, or nil for the zero time (JSON null).
func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// handleCreateLink makes a share link to a live session under one of its connection's
// profiles and answers its URL.
func (s *Server) handleCreateLink(w http.ResponseWriter, r *http.Request) {
	sid, user, m, ok := s.requireSharer(w, r)
	if !ok {
		return
	}
	var req linkRequest
	if !decodeBody(w, r, &req) {
		return
	}
	p, err := s.store.Profile(r.Context(), store.ProfileID(req.Profile))
	if errors.Is(err, store.ErrNotFound) || err == nil && p.ConnectionID != m.conn.ID {
		writeFieldError(w, http.StatusBadRequest, "profile", "profile: not a sharing profile of this session's connection")
		return
	}
	if err != nil {
		s.internalError(w, "get profile", err)
		return
	}
	link, key, err := s.store.CreateShareLink(r.Context(), string(sid), p.ID, user.ID)
	if err == nil && !s.hub.addLink(sid, link.ID, link.ExpiresAt) {
		err = store.ErrNotFound // the session ended meanwhile: the link is dead already
	}
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no such live session")
		return
	}
	if err != nil {
		s.writeStoreError(w, "create share link", "profile", err)
		return
	}
	s.log.Info().Str("session", string(sid)).Int64("link", int64(link.ID)).Str("key_sha256", keyRef(key)).
		Int64("profile", int64(p.ID)).Str("user", user.Username).Msg("share link created")
	writeJSON(w, http.StatusCreated, newLinkReply{linkInfo: newLinkInfo(link, p), URL: s.origin(r) + "/s/" + key, Passcode: link.Passcode})
}

// handleLinks lists the links made in a live session with the guests on each.
func (s *Server) handleLinks(w http.ResponseWriter, r *http.Request) {
	sid, _, m, ok := s.requireSharer(w, r)
	if !ok {
		return
	}
	links, err := s.store.ShareLinks(r.Context(), string(sid))
	if err != nil {
		s.internalError(w, "list share links", err)
		return
	}
	ps, err := s.store.Profiles(r.Context(), m.conn.ID)
	if err != nil {
		s.internalError(w, "list profiles", err)
		return
	}
	profiles := make(map[store.ProfileID]store.SharingProfile, len(ps))
	for _, p := range ps {
		profiles[p.ID] = p
	}
	guests := s.hub.linkGuests(sid)
	reply := make([]linkReply, 0, len(links))
	for _, l := range links {
		reply = append(reply, linkReply{
			linkInfo:  newLinkInfo(l, profiles[l.ProfileID]),
			RevokedAt: optionalTime(l.RevokedAt),
			UsedAt:    optionalTime(l.UsedAt),
			Guests:    guests[l.ID],
		})
	}
	writeJSON(w, http.StatusOK, reply)
}

// handleRevokeLink revokes a link, disconnecting its peers: for its creator, the owner of
// its session or an admin.
func (s *Server) handleRevokeLink(w http.ResponseWriter, r *http.Request) {
	user, ok := s.requireUser(w, r)
	if !ok {
		return
	}
	id, ok := pathID(w, r, "id")
	if !ok {
		return
	}
	link, err := s.store.ShareLink(r.Context(), store.LinkID(id))
	if err != nil {
		s.writeStoreError(w, "get share link", "", err)
		return
	}
	m, live := s.hub.membership(SessionID(link.SessionID), user.ID)
	if !user.Admin && link.CreatedBy != user.ID && !(live && m.owner == user.ID) {
		writeError(w, http.StatusForbidden, "only the link's creator, the session's owner or an administrator may revoke it")
		return
	}
	if _, err := s.store.RevokeShareLink(r.Context(), link.ID); err != nil {
		s.writeStoreError(w, "revoke share link", "", err)
		return
	}
	s.hub.revokeLinks(link.ID)
	s.log.Info().Int64("link", id).Str("session", link.SessionID).Str("user", user.Username).Msg("share link revoked")
	w.WriteHeader(http.StatusNoContent)
}

// requireSharer checks that the request may manage the links of the live session named by
// the path: a logged-in participant who joined it through its connection, or an admin. It
// answers 403 for a guest (no login, or only on the session through a link) and another
// user, and 404 for a session that is not live.
func (s *Server) requireSharer(w http.ResponseWriter, r *http.Request) (SessionID, store.User, membership, bool) {
	sid := SessionID(r.PathValue("sid"))
	user, err := s.optionalUser(r)
	if err != nil {
		s.internalError(w, "look up login session", err)
		return "", store.User{}, membership{}, false
	}
	if user.ID == 0 {
		writeError(w, http.StatusForbidden, "guests cannot create share links")
		return "", store.User{}, membership{}, false
	}
	m, live := s.hub.membership(sid, user.ID)
	switch {
	case !live:
		writeError(w, http.StatusNotFound, "no such live session")
	case user.Admin || m.direct:
		return sid, user, m, true
	case m.viaLink:
		writeError(w, http.StatusForbidden, "guests cannot create share links")
	default:
		writeError(w, http.StatusForbidden, "not a participant of this session")
	}
	return "", store.User{}, membership{}, false
}

// origin is where browsers reach the server: Config.PublicURL, else the request's own.
func (s *Server) origin(r *http.Request) string {
	if s.publicURL != "" {
		return s.publicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// handleShare tells the page what a share key opens, before it opens the WebSocket.
func (s *Server) handleShare(w http.ResponseWriter, r *http.Request) {
	var req shareRequest
	if !decodeBody(w, r, &req) {
		return
	}
	sh, err := s.lookupShare(r.Context(), r, req.Key)
	if err != nil {
		s.writeShareError(w, err)
		return
	}
	if s.hub.linkFull(sh.sess, sh.link.ID, sh.profile.MaxGuests) {
		writeError(w, http.StatusConflict, msgGuestLimit) // the page cannot read a WebSocket's status
		return
	}
	if req.Passcode != "" {
		if err := s.checkPasscode(r, sh, req.Key, req.Passcode); err != nil {
			s.writeShareError(w, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, shareReply{
		Session:    string(sh.sess.id),
		Connection: shareConnection{ID: int64(sh.sess.conn.ID), Name: sh.sess.conn.Name},
		ReadOnly:   sh.profile.ReadOnly,
		Passcode:   sh.link.Protected,
	})
}

// handleSharePage serves the page of a share URL: index.html for a valid key, invalid.html
// with 404 for any other; neither may be cached.
func (s *Server) handleSharePage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	_, err := s.lookupShare(r.Context(), r, r.PathValue("key"))
	switch {
	case err == nil:
		s.servePage(w, http.StatusOK, "index.html")
	case errors.Is(err, errInvalidLink):
		s.servePage(w, http.StatusNotFound, "invalid.html")
	default:
		s.writeShareError(w, err)
	}
}

// servePage answers with status and the HTML file name of Config.Static. Without the file,
// the invalid page falls back to the JSON error, and the index is an internal error.
func (s *Server) servePage(w http.ResponseWriter, status int, name string) {
	var page []byte
	err := fs.ErrNotExist
	if s.static != nil {
		page, err = fs.ReadFile(s.static, name)
	}
	if err != nil && status == http.StatusNotFound {
		writeError(w, status, msgInvalidLink)
		return
	}
	if err != nil {
		s.internalError(w, "read "+name, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(page) // a write error means the client went away
}
