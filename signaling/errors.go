package signaling

import "errors"

// ErrInvalidConfig is returned by New when the Config is incomplete or inconsistent.
var ErrInvalidConfig = errors.New("signaling: invalid config")

// ErrSessionNotFound is returned by EndSession when no live session has the given id.
var ErrSessionNotFound = errors.New("signaling: no such live session")

// Why a share key was refused; the handlers turn them into the documented replies.
var (
	errInvalidLink = errors.New("signaling: invalid share link")
	errThrottled   = errors.New("signaling: too many invalid share links")
)
