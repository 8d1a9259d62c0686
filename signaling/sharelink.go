package signaling

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"

	"peerdesk/store"
)

// Replies to a refused share key.
const (
	msgInvalidLink = "This link is invalid or has expired"
	msgThrottled   = "Too many invalid links; try again later"
)

// share is what a valid share key opens.
type share struct {
	link    store.ShareLink
	profile store.SharingProfile
	sess    *session
}

// lookupShare resolves a share key for a request, throttled by the client's address. It
// returns a throttledError if the address tried too many invalid keys, errInvalidLink for an
// unknown, malformed, revoked or expired key or one whose session is no longer live, and
// other errors for a failing store.
func (s *Server) lookupShare(ctx context.Context, r *http.Request, key string) (share, error) {
	done, retry, ok := s.throttle.attempt(s.clientAddr(r))
	if !ok {
		return share{}, throttledError{retry}
	}
	link, profile, err := s.store.ShareLinkByKey(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		done(true)
		return share{}, errInvalidLink
	}
	if err != nil {
		done(false) // the store failed, not the key
		return share{}, fmt.Errorf("look up share key %s: %w", keyRef(key), err)
	}
	sess := s.hub.session(SessionID(link.SessionID))
	done(sess == nil)
	if sess == nil {
		return share{}, errInvalidLink
	}
	return share{link: link, profile: profile, sess: sess}, nil
}

// writeShareError answers a failed lookupShare with its JSON error.
func (s *Server) writeShareError(w http.ResponseWriter, err error) {
	var te throttledError
	switch {
	case errors.As(err, &te):
		writeThrottled(w, te.retryAfter, msgThrottled)
	case errors.Is(err, errInvalidLink):
		writeError(w, http.StatusNotFound, msgInvalidLink)
	default:
		s.internalError(w, "share link", err)
	}
}

// keyRef names a share key in logs without revealing it: the first 8 hex digits of its
// SHA-256.
func keyRef(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:4])
}
