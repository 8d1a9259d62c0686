package signaling

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"peerdesk/store"
)

// Replies to a refused share key.
const (
	msgInvalidLink = "This link is invalid or has expired"
	msgBadPasscode = "passcode: wrong or missing"
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

// checkPasscode checks the passcode given for the link of sh, if it has one, in constant
// time. Misses are throttled per link (passcodeMisses, then one every passcodeWindow /
// passcodeMisses) and per client address, as invalid keys: a million passcodes take years.
func (s *Server) checkPasscode(r *http.Request, sh share, key, passcode string) error {
	if !sh.link.Protected {
		return nil
	}
	done, retry, ok := s.passcodes.attempt(strconv.FormatInt(int64(sh.link.ID), 10))
	if !ok {
		return throttledError{retry}
	}
	addrDone, retry, ok := s.throttle.attempt(s.clientAddr(r))
	if !ok {
		done(false)
		return throttledError{retry}
	}
	good := sh.link.PasscodeMatches(key, passcode)
	done(!good)
	addrDone(!good)
	if !good {
		s.noisy.Info().Str("link", keyRef(key)).Msg("wrong passcode")
		return errBadPasscode
	}
	return nil
}

// writeShareError answers a failed lookupShare or checkPasscode with its JSON error.
func (s *Server) writeShareError(w http.ResponseWriter, err error) {
	var te throttledError
	switch {
	case errors.As(err, &te):
		s.counters.sharesThrottled.Add(1)
		writeThrottled(w, te.retryAfter, msgThrottled)
	case errors.Is(err, errInvalidLink):
		s.counters.linkMisses.Add(1)
		writeError(w, http.StatusNotFound, msgInvalidLink)
	case errors.Is(err, errBadPasscode):
		s.counters.passcodeMisses.Add(1)
		writeFieldError(w, http.StatusForbidden, "passcode", msgBadPasscode)
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
