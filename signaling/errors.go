package signaling

import (
	"errors"
	"time"
)

// ErrInvalidConfig is returned by New when the Config is incomplete or inconsistent.
var ErrInvalidConfig = errors.New("signaling: invalid config")

// ErrSessionNotFound is returned by EndSession when no live session has the given id.
var ErrSessionNotFound = errors.New("signaling: no such live session")

// errInvalidLink says why a share key was refused; the handlers turn it into the documented
// reply.
var errInvalidLink = errors.New("signaling: invalid share link")

// errBadPasscode reports a passcode, missing or wrong, for a share link that has one.
var errBadPasscode = errors.New("signaling: wrong passcode")

// errLoginBusy reports a login that found no turn within loginWait.
var errLoginBusy = errors.New("signaling: too many logins at once")

// throttledError reports a request refused by a throttle, with how long until the client may
// try again.
type throttledError struct{ retryAfter time.Duration }

func (e throttledError) Error() string {
	return "signaling: throttled for " + e.retryAfter.Round(time.Second).String()
}
