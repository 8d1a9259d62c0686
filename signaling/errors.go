package signaling

import "errors"

// ErrInvalidConfig is returned by New when the Config is incomplete or inconsistent.
var ErrInvalidConfig = errors.New("signaling: invalid config")
