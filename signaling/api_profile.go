package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"peerdesk/signaling/proto"
	"peerdesk/store"
)

// profileRequest is the body of a profile's creation or update.
type profileRequest struct {
	Name         string `json:"name"`
	ReadOnly     bool   `json:"readOnly"`
	LinkLifetime int64  `json:"linkLifetime"` // seconds; 0: until the session ends
	MaxGuests    int    `json:"maxGuests"`    // 0: unlimited
	Passcode     bool   `json:"passcode"`     // links need a passcode, made with each
	SingleUse    bool   `json:"singleUse"`    // a link stops working once someone joined
	Admit        bool   `json:"admit"`        // guests wait until the host lets them in
	AskControl   bool   `json:"askControl"`   // full-access participants ask for control
}

// profile turns the request into a profile, or answers 400 for a lifetime no Duration holds.
func (req profileRequest) profile(w http.ResponseWriter) (store.SharingProfile, bool) {
	if req.LinkLifetime < 0 || req.LinkLifetime > int64(math.MaxInt64/time.Second) {
		writeFieldError(w, http.StatusBadRequest, "linkLifetime", "linkLifetime: must be 0 (until the session ends) or a number of seconds")
		return store.SharingProfile{}, false
	}
	return store.SharingProfile{
		Name:         req.Name,
		ReadOnly:     req.ReadOnly,
		LinkLifetime: time.Duration(req.LinkLifetime) * time.Second,
		MaxGuests:    req.MaxGuests,
		Passcode:     req.Passcode,
		SingleUse:    req.SingleUse,
		Admit:        req.Admit,
		AskControl:   req.AskControl,
	}, true
}

type profileReply struct {
	ID           int64     `json:"id"`
	Connection   int64     `json:"connection"`
	Name         string    `json:"name"`
	ReadOnly     bool      `json:"readOnly"`
	LinkLifetime int64     `json:"linkLifetime"`
	MaxGuests    int       `json:"maxGuests"`
	Passcode     bool      `json:"passcode"`
	SingleUse    bool      `json:"singleUse"`
	Admit        bool      `json:"admit"`
	AskControl   bool      `json:"askControl"`
	CreatedAt    time.Time `json:"createdAt"`
}

func newProfileReply(p store.SharingProfile) profileReply {
	return profileReply{
		ID:           int64(p.ID),
		Connection:   int64(p.ConnectionID),
		Name:         p.Name,
		ReadOnly:     p.ReadOnly,
		LinkLifetime: int64(p.LinkLifetime / time.Second),
		MaxGuests:    p.MaxGuests,
		Passcode:     p.Passcode,
		SingleUse:    p.SingleUse,
		Admit:        p.Admit,
		AskControl:   p.AskControl,
		CreatedAt:    p.CreatedAt,
	}
}

type nameRequest struct {
	Name string `json:"name"`
}

type newConnectionReply struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	AgentToken string `json:"agentToken"`
}

// handleCreateConnection adds a connection and shows its agent token, this once.
func (s *Server) handleCreateConnection(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.requireAdmin(w, r); !ok {
		return
	}
	var req nameRequest
	if !decodeBody(w, r, &req) {
		return
	}
	conn, token, err := s.store.CreateConnection(r.Context(), req.Name)
	if err != nil {
		s.writeStoreError(w, "create connection", "name", err)
		return
	}
	s.log.Info().Int64("connection", int64(conn.ID)).Msg("connection created")
	writeJSON(w, http.StatusCreated, newConnectionReply{ID: int64(conn.ID), Name: conn.Name, AgentToken: token})
}

// handleRotateToken gives a connection a new agent token, shows it this once and disconnects
// the agent holding the old one.
func (s *Server) handleRotateToken(w http.ResponseWriter, r *http.Request) {
	id, ok := s.adminPathID(w, r)
	if !ok {
		return
	}
	conn, err := s.store.Connection(r.Context(), store.ConnectionID(id))
	if err != nil {
		s.writeStoreError(w, "rotate agent token", "", err)
		return
	}
	token, err := s.store.RotateAgentToken(r.Context(), conn.ID)
	if err != nil {
		s.writeStoreError(w, "rotate agent token", "", err)
		return
	}
	s.everywhere(hubOp{Op: opDropAgent, Conn: int64(conn.ID), Code: proto.CloseTokenRevoked, Message: "agent token regenerated"})
	s.log.Info().Int64("connection", id).Msg("agent token regenerated")
	writeJSON(w, http.StatusOK, newConnectionReply{ID: int64(conn.ID), Name: conn.Name, AgentToken: token})
}

// handleDeleteConnection deletes a connection with its profiles and links, ends its live
// session and disconnects its agent.
func (s *Server) handleDeleteConnection(w http.ResponseWriter, r *http.Request) {
	id, ok := s.adminPathID(w, r)
	if !ok {
		return
	}
	if err := s.store.DeleteConnection(r.Context(), store.ConnectionID(id)); err != nil {
		s.writeStoreError(w, "delete connection", "", err)
		return
	}
	// The store deleted the session's row with the connection: there is nothing to record.
	s.everywhere(hubOp{Op: opRemoveConnection, Conn: id, Message: msgSessionEnded})
	s.log.Info().Int64("connection", id).Msg("connection deleted")
	w.WriteHeader(http.StatusNoContent)
}

// handleProfiles lists a connection's profiles to an admin or a user permitted on it.
func (s *Server) handleProfiles(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "id")
	if !ok {
		return
	}
	user, ok := s.requireUser(w, r)
	if !ok || !s.checkUse(w, r, user, store.ConnectionID(id)) {
		return
	}
	ps, err := s.store.Profiles(r.Context(), store.ConnectionID(id))
	if err != nil {
		s.internalError(w, "list profiles", err)
		return
	}
	reply := make([]profileReply, 0, len(ps))
	for _, p := range ps {
		reply = append(reply, newProfileReply(p))
	}
	writeJSON(w, http.StatusOK, reply)
}

// handleCreateProfile adds a profile to a connection.
func (s *Server) handleCreateProfile(w http.ResponseWriter, r *http.Request) {
	s.saveProfile(w, r, "create profile", http.StatusCreated, func(ctx context.Context, id int64, p store.SharingProfile) (store.SharingProfile, error) {
		p.ConnectionID = store.ConnectionID(id)
		p, err := s.store.CreateProfile(ctx, p)
		if err == nil {
			s.log.Info().Int64("profile", int64(p.ID)).Int64("connection", id).Msg("sharing profile created")
		}
		return p, err
	})
}

// handleProfile shows a profile to an admin or a user permitted on its connection.
func (s *Server) handleProfile(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "id")
	if !ok {
		return
	}
	user, ok := s.requireUser(w, r)
	if !ok {
		return
	}
	p, err := s.store.Profile(r.Context(), store.ProfileID(id))
	if err != nil {
		s.writeStoreError(w, "get profile", "", err)
		return
	}
	if !s.checkUse(w, r, user, p.ConnectionID) {
		return
	}
	writeJSON(w, http.StatusOK, newProfileReply(p))
}

// handleUpdateProfile replaces a profile's name and options; live guests keep theirs.
func (s *Server) handleUpdateProfile(w http.ResponseWriter, r *http.Request) {
	s.saveProfile(w, r, "update profile", http.StatusOK, func(ctx context.Context, id int64, p store.SharingProfile) (store.SharingProfile, error) {
		p.ID = store.ProfileID(id)
		p, err := s.store.UpdateProfile(ctx, p)
		if err == nil {
			s.log.Info().Int64("profile", id).Msg("sharing profile updated")
		}
		return p, err
	})
}

// saveProfile serves a profile's creation or update for an admin: it decodes and checks the
// body, has save store it under the path's id, and answers status with the stored profile, or
// answers the error (what names the operation in the log of an internal one).
func (s *Server) saveProfile(w http.ResponseWriter, r *http.Request, what string, status int,
	save func(ctx context.Context, id int64, p store.SharingProfile) (store.SharingProfile, error)) {
	id, ok := s.adminPathID(w, r)
	if !ok {
		return
	}
	var req profileRequest
	if !decodeBody(w, r, &req) {
		return
	}
	p, ok := req.profile(w)
	if !ok {
		return
	}
	p, err := save(r.Context(), id, p)
	if err != nil {
		s.writeStoreError(w, what, "name", err)
		return
	}
	writeJSON(w, status, newProfileReply(p))
}

// handleDeleteProfile deletes a profile and its links, disconnecting their peers.
func (s *Server) handleDeleteProfile(w http.ResponseWriter, r *http.Request) {
	id, ok := s.adminPathID(w, r)
	if !ok {
		return
	}
	links, err := s.store.DeleteProfile(r.Context(), store.ProfileID(id))
	if err != nil {
		s.writeStoreError(w, "delete profile", "", err)
		return
	}
	op := hubOp{Op: opRevokeLinks}
	for _, l := range links {
		op.Links = append(op.Links, int64(l))
	}
	s.everywhere(op)
	s.log.Info().Int64("profile", id).Int("links", len(links)).Msg("sharing profile deleted")
	w.WriteHeader(http.StatusNoContent)
}

// handleCloneProfile copies a profile under a new name.
func (s *Server) handleCloneProfile(w http.ResponseWriter, r *http.Request) {
	id, ok := s.adminPathID(w, r)
	if !ok {
		return
	}
	var req nameRequest
	if !decodeBody(w, r, &req) {
		return
	}
	p, err := s.store.CloneProfile(r.Context(), store.ProfileID(id), req.Name)
	if err != nil {
		s.writeStoreError(w, "clone profile", "name", err)
		return
	}
	s.log.Info().Int64("profile", int64(p.ID)).Int64("from", id).Msg("sharing profile cloned")
	writeJSON(w, http.StatusCreated, newProfileReply(p))
}

// requireAdmin returns the logged-in administrator, or answers 401 or 403.
func (s *Server) requireAdmin(w http.ResponseWriter, r *http.Request) (store.User, bool) {
	user, ok := s.requireUser(w, r)
	if ok && !user.Admin {
		writeError(w, http.StatusForbidden, "administrators only")
		return store.User{}, false
	}
	return user, ok
}

// adminPathID checks that the request comes from an admin and returns its path's "id", or
// answers 401, 403 or 404.
func (s *Server) adminPathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	if _, ok := s.requireAdmin(w, r); !ok {
		return 0, false
	}
	return pathID(w, r, "id")
}

// checkUse checks that user may use connection id, or answers 403 or 404.
func (s *Server) checkUse(w http.ResponseWriter, r *http.Request, user store.User, id store.ConnectionID) bool {
	allowed, err := s.store.CanUse(r.Context(), user, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "no such connection")
	case err != nil:
		s.internalError(w, "check permission", err)
	case !allowed:
		writeError(w, http.StatusForbidden, "no permission for this connection")
	}
	return err == nil && allowed
}

// pathID parses the positive integer path wildcard name, or answers 404.
func pathID(w http.ResponseWriter, r *http.Request, name string) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusNotFound, "not found")
		return 0, false
	}
	return id, true
}

// decodeBody decodes the request's JSON body of at most maxBody bytes into v, or answers 400,
// naming the field of a value of the wrong type.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(v)
	if err == nil {
		return true
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		writeFieldError(w, http.StatusBadRequest, typeErr.Field, typeErr.Field+": must be a JSON "+typeErr.Type.Kind().String())
		return false
	}
	writeError(w, http.StatusBadRequest, "body must be a JSON object of at most 64 KiB")
	return false
}

// writeStoreError answers a store error: 400 naming the field of a validation error (the
// store's, or field for one that names none), 409 for a taken name, 404 for a missing
// record, 500 otherwise.
func (s *Server) writeStoreError(w http.ResponseWriter, what, field string, err error) {
	var fe *store.FieldError
	switch {
	case errors.As(err, &fe):
		writeFieldError(w, http.StatusBadRequest, fe.Field, fe.Field+": "+fe.Problem)
	case errors.Is(err, store.ErrInvalid):
		writeFieldError(w, http.StatusBadRequest, field, strings.TrimPrefix(err.Error(), store.ErrInvalid.Error()+": "))
	case errors.Is(err, store.ErrExists):
		writeFieldError(w, http.StatusConflict, field, field+": this name is already taken")
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not found")
	default:
		s.internalError(w, what, err)
	}
}

// writeFieldError answers a validation error naming the offending field.
func writeFieldError(w http.ResponseWriter, status int, field, message string) {
	writeJSON(w, status, struct {
		Error string `json:"error"`
		Field string `json:"field,omitempty"`
	}{message, field})
}
