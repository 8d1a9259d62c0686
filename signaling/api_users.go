package signaling

import (
	"crypto/rand"
	"errors"
	"net/http"
	"strings"
	"time"

	"peerdesk/store"
)

// Users in the web (docs/PROTOCOL.md, section 1): admins list, create, promote, reset and
// delete accounts and grant them connections; every user changes their own password.

// Messages of the users API.
const (
	msgAccountDeleted  = "Your account was deleted"
	msgPasswordReset   = "Your password was changed; log in again"
	msgAccessRevoked   = "Your access to this connection was revoked"
	msgNotYourself     = "you cannot delete your own account or remove your own admin rights"
	msgLastAdmin       = "peerdesk needs at least one administrator"
	msgCurrentPassword = "current password is wrong"
)

type accountReply struct {
	ID          int64     `json:"id"`
	Username    string    `json:"username"`
	Admin       bool      `json:"admin"`
	CreatedAt   time.Time `json:"createdAt"`
	Connections []int64   `json:"connections"` // granted ones; admins may use every connection
	// Password is a generated password, shown once: in the answer to a creation or a reset
	// that asked for none.
	Password string `json:"password,omitempty"`
}

func newAccountReply(u store.User, grants []store.ConnectionID) accountReply {
	r := accountReply{ID: int64(u.ID), Username: u.Username, Admin: u.Admin, CreatedAt: u.CreatedAt, Connections: []int64{}}
	for _, c := range grants {
		r.Connections = append(r.Connections, int64(c))
	}
	return r
}

type createUserRequest struct {
	Username string `json:"username"`
	Password string `json:"password"` // empty: generate one
	Admin    bool   `json:"admin"`
}

type setAdminRequest struct {
	Admin *bool `json:"admin"`
}

type passwordRequest struct {
	Password string `json:"password"` // empty: generate one (admins resetting another's)
}

type changePasswordRequest struct {
	Current  string `json:"current"`
	Password string `json:"password"`
}

// handleUsers lists every account with its grants, to an admin.
func (s *Server) handleUsers(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.requireAdmin(w, r); !ok {
		return
	}
	us, err := s.store.Users(r.Context())
	if err != nil {
		s.internalError(w, "list users", err)
		return
	}
	grants, err := s.store.UserGrants(r.Context())
	if err != nil {
		s.internalError(w, "list grants", err)
		return
	}
	out := make([]accountReply, len(us))
	for i, u := range us {
		out[i] = newAccountReply(u, grants[u.ID])
	}
	writeJSON(w, http.StatusOK, out)
}

// handleCreateUser creates an account with the password given, or a generated one that the
// answer shows once.
func (s *Server) handleCreateUser(w http.ResponseWriter, r *http.Request) {
	admin, ok := s.requireAdmin(w, r)
	if !ok {
		return
	}
	var req createUserRequest
	if !decodeBody(w, r, &req) {
		return
	}
	pw, shown := passwordOrGenerated(req.Password)
	u, err := s.store.CreateUser(r.Context(), req.Username, pw, req.Admin)
	if err != nil {
		field := "username"
		if strings.Contains(err.Error(), "password") {
			field = "password"
		}
		s.writeUserError(w, "create user", field, err)
		return
	}
	s.log.Info().Str("user", u.Username).Bool("admin", u.Admin).Str("by", admin.Username).Msg("user created")
	reply := newAccountReply(u, nil)
	reply.Password = shown
	writeJSON(w, http.StatusCreated, reply)
}

// passwordOrGenerated returns the password to set, typed or else generated, and the one to
// show in the answer: the generated one, or "".
func passwordOrGenerated(typed string) (password, shown string) {
	if typed != "" {
		return typed, ""
	}
	pw := rand.Text()
	return pw, pw
}

// handleSetAdmin promotes or demotes an account: never the caller's own, never the last admin.
func (s *Server) handleSetAdmin(w http.ResponseWriter, r *http.Request) {
	admin, id, ok := s.adminOtherUser(w, r)
	if !ok {
		return
	}
	var req setAdminRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Admin == nil {
		writeFieldError(w, http.StatusBadRequest, "admin", "admin: must be true or false")
		return
	}
	u, err := s.store.SetAdmin(r.Context(), id, *req.Admin)
	if err != nil {
		s.writeUserError(w, "set admin", "admin", err)
		return
	}
	grants, err := s.store.UserGrants(r.Context())
	if err != nil {
		s.internalError(w, "list grants", err)
		return
	}
	s.log.Info().Str("user", u.Username).Bool("admin", u.Admin).Str("by", admin.Username).Msg("admin rights changed")
	writeJSON(w, http.StatusOK, newAccountReply(u, grants[u.ID]))
}

// handleResetPassword sets another account's password, given or generated (shown once), and
// ends all of its logins and their sockets.
func (s *Server) handleResetPassword(w http.ResponseWriter, r *http.Request) {
	admin, id, ok := s.adminOtherUser(w, r)
	if !ok {
		return
	}
	var req passwordRequest
	if !decodeBody(w, r, &req) {
		return
	}
	pw, shown := passwordOrGenerated(req.Password)
	if err := s.store.SetPassword(r.Context(), id, pw); err != nil {
		s.writeUserError(w, "reset password", "password", err)
		return
	}
	s.everywhere(hubOp{Op: opCloseUser, User: int64(id), Message: msgPasswordReset})
	s.log.Info().Int64("user", int64(id)).Str("by", admin.Username).Msg("password reset")
	writeJSON(w, http.StatusOK, struct {
		Password string `json:"password,omitempty"`
	}{shown})
}

// handleDeleteUser deletes another account (never the last admin) and ends its sockets.
func (s *Server) handleDeleteUser(w http.ResponseWriter, r *http.Request) {
	admin, id, ok := s.adminOtherUser(w, r)
	if !ok {
		return
	}
	if err := s.store.DeleteUser(r.Context(), id); err != nil {
		s.writeUserError(w, "delete user", "", err)
		return
	}
	s.everywhere(hubOp{Op: opCloseUser, User: int64(id), Message: msgAccountDeleted})
	s.log.Info().Int64("user", int64(id)).Str("by", admin.Username).Msg("user deleted")
	w.WriteHeader(http.StatusNoContent)
}

// handleGrant lets a user use a connection (PUT) or takes that back (DELETE), disconnecting
// the user's peers from the connection's live session.
func (s *Server) handleGrant(w http.ResponseWriter, r *http.Request) {
	admin, ok := s.requireAdmin(w, r)
	if !ok {
		return
	}
	uid, ok := pathID(w, r, "id")
	if !ok {
		return
	}
	cid, ok := pathID(w, r, "cid")
	if !ok {
		return
	}
	user, conn := store.UserID(uid), store.ConnectionID(cid)
	var err error
	if r.Method == http.MethodPut {
		err = s.store.Grant(r.Context(), user, conn)
	} else if _, err = s.store.User(r.Context(), user); err == nil {
		err = s.store.Revoke(r.Context(), user, conn)
	}
	if err != nil {
		s.writeUserError(w, "grant", "", err)
		return
	}
	if r.Method == http.MethodDelete {
		if u, err := s.store.User(r.Context(), user); err == nil && !u.Admin {
			s.everywhere(hubOp{Op: opCloseUser, User: int64(user), Conn: int64(conn), Message: msgAccessRevoked})
		}
	}
	s.log.Info().Int64("user", uid).Int64("connection", cid).Str("method", r.Method).Str("by", admin.Username).Msg("connection grant changed")
	w.WriteHeader(http.StatusNoContent)
}

// handleChangePassword changes the caller's own password, given the current one (a wrong one
// counts as a failed login, throttled alike). The caller's other logins end with their
// sockets; this one goes on under a new cookie.
func (s *Server) handleChangePassword(w http.ResponseWriter, r *http.Request) {
	user, ok := s.requireUser(w, r)
	if !ok {
		return
	}
	var req changePasswordRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if _, err := s.authenticate(r, user.Username, req.Current); err != nil {
		var te throttledError
		switch {
		case errors.As(err, &te):
			writeThrottled(w, te.retryAfter, msgLoginSlow)
		case errors.Is(err, errLoginBusy):
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, msgLoginBusy)
		case errors.Is(err, store.ErrBadCredentials):
			writeFieldError(w, http.StatusForbidden, "current", msgCurrentPassword)
		default:
			s.internalError(w, "check current password", err)
		}
		return
	}
	if err := s.store.SetPassword(r.Context(), user.ID, req.Password); err != nil {
		s.writeUserError(w, "change password", "password", err)
		return
	}
	c, _ := r.Cookie(sessionCookie) // present: requireUser found it
	s.everywhere(hubOp{Op: opCloseUser, User: int64(user.ID), Keep: loginRef(c.Value), Message: msgPasswordReset})
	if !s.startLogin(w, r, user) {
		return
	}
	s.log.Info().Str("user", user.Username).Msg("password changed")
	w.WriteHeader(http.StatusNoContent)
}

// adminOtherUser checks that the request comes from an admin about another account, and
// returns both, or answers 401, 403, 404 or 409.
func (s *Server) adminOtherUser(w http.ResponseWriter, r *http.Request) (store.User, store.UserID, bool) {
	admin, ok := s.requireAdmin(w, r)
	if !ok {
		return store.User{}, 0, false
	}
	id, ok := pathID(w, r, "id")
	if !ok {
		return store.User{}, 0, false
	}
	if store.UserID(id) == admin.ID {
		writeError(w, http.StatusConflict, msgNotYourself)
		return store.User{}, 0, false
	}
	return admin, store.UserID(id), true
}

// writeUserError answers a store error of the users API: 409 for the last admin, else as
// writeStoreError.
func (s *Server) writeUserError(w http.ResponseWriter, what, field string, err error) {
	if errors.Is(err, store.ErrLastAdmin) {
		writeError(w, http.StatusConflict, msgLastAdmin)
		return
	}
	s.writeStoreError(w, what, field, err)
}
