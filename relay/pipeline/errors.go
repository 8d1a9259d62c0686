package pipeline

import "errors"

// Errors callers branch on; others are wrapped around them with %w.
var (
	// ErrConfig reports an invalid configuration.
	ErrConfig = errors.New("pipeline: invalid config")
	// ErrTileTooLarge reports an encoded tile that does not fit one display message; it ends the
	// peer stream that met it (it cannot happen with TileSize ≤ 64).
	ErrTileTooLarge = errors.New("pipeline: encoded tile exceeds a display message")
)
