package demo

import "errors"

// Errors callers branch on; others are wrapped around them with %w.
var (
	// ErrConfig reports an invalid configuration.
	ErrConfig = errors.New("demo: invalid config")
	// ErrBadInput reports an input event of an unknown type or outside the desktop.
	ErrBadInput = errors.New("demo: bad input")
	// ErrRunning reports a second concurrent call of Run.
	ErrRunning = errors.New("demo: desktop already running")
)
