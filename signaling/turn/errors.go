package turn

import "errors"

// ErrInvalidConfig is returned by New and NewCredentials for an incomplete or inconsistent
// configuration.
var ErrInvalidConfig = errors.New("turn: invalid config")

// Why a credential was refused; the auth handler counts them, tests branch on them.
var (
	errMalformed   = errors.New("turn: malformed REST username")
	errExpired     = errors.New("turn: credential expired")
	errFutureDated = errors.New("turn: credential expires beyond the maximum TTL")
	errEnded       = errors.New("turn: the credential's identity was ended")
	errQuota       = errors.New("turn: allocation quota reached")
	errTCPRelay    = errors.New("turn: TCP relay allocations are not offered")
)
