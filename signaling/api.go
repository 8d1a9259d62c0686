package signaling

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"peerdesk/store"
)

// Names and limits of the HTTP API (docs/PROTOCOL.md, section 1).
const (
	sessionCookie = "peerdesk_session"
	maxBody       = 64 * 1024
	// loginsAtOnce bounds the logins checked at once (each an argon2id hash); more wait up to
	// loginWait for a turn, then get 503. A flood of logins thus costs the server at most that
	// much CPU and memory, whatever its size.
	loginsAtOnce = 4
	loginWait    = 2 * time.Second
	msgLoginBusy = "Too many logins at once; try again in a moment"
	msgLoginSlow = "Too many failed logins; try again later"
	msgLoggedOut = "You logged out"
)

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type userReply struct {
	Username string `json:"username"`
	Admin    bool   `json:"admin"`
}

type connectionReply struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	Online     bool   `json:"online"`
	Record     bool   `json:"record"`
	RecordKeys bool   `json:"recordKeys"`
}

// handleLogin checks a username and password and sets the login cookie.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if !s.allowRequest(w, r, http.MethodPost) {
		return
	}
	var req loginRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "body must be a JSON object {\"username\",\"password\"} of at most 64 KiB")
		return
	}
	user, err := s.authenticate(r, req.Username, req.Password)
	var te throttledError
	switch {
	case errors.As(err, &te):
		s.counters.loginThrottled.Add(1)
		s.noisy.Info().Dur("retry_after", te.retryAfter).Msg("login throttled")
		writeThrottled(w, te.retryAfter, msgLoginSlow)
		return
	case errors.Is(err, errLoginBusy):
		s.counters.loginBusy.Add(1)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, msgLoginBusy)
		return
	case errors.Is(err, store.ErrBadCredentials):
		s.noisy.Info().Msg("login refused") // no username: people type passwords there
		writeError(w, http.StatusUnauthorized, "invalid username or password")
		return
	case err != nil && r.Context().Err() != nil:
		s.log.Debug().Msg("login abandoned by the client")
		return
	case err != nil:
		s.internalError(w, "authenticate", err)
		return
	}
	if !s.startLogin(w, r, user) {
		return
	}
	s.log.Info().Str("user", user.Username).Msg("logged in")
	writeJSON(w, http.StatusOK, userReply{Username: user.Username, Admin: user.Admin})
}

// startLogin makes a login session for user and sets its cookie, or answers 500.
func (s *Server) startLogin(w http.ResponseWriter, r *http.Request, user store.User) bool {
	token, err := s.store.CreateLoginSession(r.Context(), user.ID, s.sessionTTL)
	if err != nil {
		s.internalError(w, "create login session", err)
		return false
	}
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    token,
		Path:     "/",
		Expires:  s.now().Add(s.sessionTTL),
		MaxAge:   int(s.sessionTTL.Seconds()),
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteStrictMode,
	})
	return true
}

// authenticate checks a login, throttled by the client's address and by the username (lower
// case), each of which may fail a few times, then once every so often; and gated, so that at
// most loginsAtOnce hashes run at once. The throttles are checked again once the login has its
// turn, so that a burst of guesses waiting at the gate gets no more than the budget allows. It
// returns a throttledError, errLoginBusy, or the store's answer.
func (s *Server) authenticate(r *http.Request, username, password string) (store.User, error) {
	addr, name := s.clientAddr(r), strings.ToLower(username)
	throttled := func() error {
		retryAddr, okAddr := s.loginAddrs.check(addr)
		retryUser, okUser := s.loginUsers.check(name)
		if !okAddr || !okUser {
			return throttledError{max(retryAddr, retryUser)}
		}
		return nil
	}
	if err := throttled(); err != nil {
		return store.User{}, err
	}
	wait := time.NewTimer(loginWait)
	defer wait.Stop()
	select {
	case s.logins <- struct{}{}:
		defer func() { <-s.logins }()
	case <-wait.C:
		return store.User{}, errLoginBusy
	case <-r.Context().Done():
		return store.User{}, r.Context().Err()
	}
	if err := throttled(); err != nil {
		return store.User{}, err
	}
	user, err := s.store.Authenticate(r.Context(), username, password)
	if errors.Is(err, store.ErrBadCredentials) {
		s.loginAddrs.miss(addr)
		s.loginUsers.miss(name)
	}
	return user, err
}

// handleLogout deletes the login session and clears the cookie.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if !s.allowRequest(w, r, http.MethodPost) {
		return
	}
	user, ok := s.requireUser(w, r)
	if !ok {
		return
	}
	c, _ := r.Cookie(sessionCookie) // present: requireUser found it
	if err := s.store.DeleteLoginSession(r.Context(), c.Value); err != nil {
		s.internalError(w, "delete login session", err)
		return
	}
	s.everywhere(hubOp{Op: opCloseLogin, Keep: loginRef(c.Value), Message: msgLoggedOut}) // its sessions' sockets end with it
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteStrictMode,
	})
	s.log.Info().Str("user", user.Username).Msg("logged out")
	w.WriteHeader(http.StatusNoContent)
}

// loginRef names the login session of a cookie value without keeping the secret: the first 16
// bytes of its SHA-256, in hex.
func loginRef(cookie string) string {
	sum := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(sum[:16])
}

// requestLogin is the loginRef of the request's login cookie, "" without one.
func requestLogin(r *http.Request) string {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return ""
	}
	return loginRef(c.Value)
}

// handleMe answers who the login cookie belongs to.
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	if !allowMethod(w, r, http.MethodGet) {
		return
	}
	user, ok := s.requireUser(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, userReply{Username: user.Username, Admin: user.Admin})
}

// handleConnections lists the connections the user may use, with their agents' presence.
func (s *Server) handleConnections(w http.ResponseWriter, r *http.Request) {
	user, ok := s.requireUser(w, r)
	if !ok {
		return
	}
	conns, err := s.store.ConnectionsFor(r.Context(), user)
	if err != nil {
		s.internalError(w, "list connections", err)
		return
	}
	online := s.online(r.Context())
	reply := make([]connectionReply, 0, len(conns))
	for _, c := range conns {
		reply = append(reply, connectionReplyOf(c, online))
	}
	writeJSON(w, http.StatusOK, reply)
}

// requireUser returns the user of the request's login cookie, or answers 401.
func (s *Server) requireUser(w http.ResponseWriter, r *http.Request) (store.User, bool) {
	user, err := s.optionalUser(r)
	if err != nil {
		s.internalError(w, "look up login session", err)
		return store.User{}, false
	}
	if user.ID == 0 {
		writeError(w, http.StatusUnauthorized, "login required")
		return store.User{}, false
	}
	return user, true
}

// optionalUser returns the user of the request's login cookie, or the zero User if there is
// no valid one.
func (s *Server) optionalUser(r *http.Request) (store.User, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return store.User{}, nil
	}
	user, err := s.store.UserBySessionToken(r.Context(), c.Value)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, nil
	}
	return user, err
}

// internalError logs err and answers 500 without details.
func (s *Server) internalError(w http.ResponseWriter, what string, err error) {
	s.log.Error().Err(err).Msg(what)
	writeError(w, http.StatusInternalServerError, "internal error")
}

// allowRequest answers 405 unless the request uses method, and 403 unless it comes from an
// allowed origin (see Server.originAllowed).
func (s *Server) allowRequest(w http.ResponseWriter, r *http.Request, method string) bool {
	if !allowMethod(w, r, method) {
		return false
	}
	if !s.originAllowed(r) {
		writeError(w, http.StatusForbidden, "cross-origin request refused")
		return false
	}
	return true
}

// allowMethod answers 405 unless the request uses method.
func allowMethod(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method {
		return true
	}
	w.Header().Set("Allow", method)
	writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed, use "+method)
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // a write error means the client went away
}

// writeThrottled answers 429 with message and a Retry-After of retry (whole seconds, at
// least 1).
func writeThrottled(w http.ResponseWriter, retry time.Duration, message string) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(retry.Seconds())))))
	writeError(w, http.StatusTooManyRequests, message)
}

func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, struct {
		Error string `json:"error"`
	}{message})
}
