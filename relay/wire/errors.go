package wire

import "errors"

// Errors returned by the decoders; callers branch on them to pick an error code.
var (
	ErrMalformed   = errors.New("wire: malformed message")
	ErrTooLarge    = errors.New("wire: message too large")
	ErrUnknownType = errors.New("wire: unknown message type")
	ErrOutOfRange  = errors.New("wire: value out of range")
)
