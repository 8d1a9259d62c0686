package wire

import (
	"encoding/binary"
	"fmt"
	"time"
)

// MsgConsumed is a message a peer sends on the display channel: CONSUMED, the number of
// bytes of display messages it has applied since the channel opened, modulo 2^32
// (docs/PROTOCOL.md, 3.2). The relay keeps at most a window of bytes unapplied by a peer that
// reports, so a peer that stops reading is held by its own reports, well before its transport's
// receive window fills.
const MsgConsumed byte = 0x10

// MsgCaps is the other: CAPS, the display features the peer supports (Cap bits), sent once
// when the channel opens. Until it comes, the relay uses none of them.
const MsgCaps byte = 0x11

// MsgRefresh is the third: REFRESH, a request for the whole desktop again (SIZE, the cursor,
// every tile, FRAME) as if the peer had just joined; one byte. The relay honours at most one
// per RefreshEvery per peer. The server's recorder asks for one every few seconds, so that a
// recording can be played from many points (docs/PROTOCOL.md, 5).
const MsgRefresh byte = 0x12

// RefreshEvery is the least time between two REFRESH requests the relay honours for one peer.
const RefreshEvery = 2 * time.Second

// EncodeRefresh returns a REFRESH message.
func EncodeRefresh() []byte { return []byte{MsgRefresh} }

// Display features a peer announces in CAPS; bits it does not know are ignored.
const (
	// CapCopy: the peer applies COPY messages.
	CapCopy uint32 = 1 << 0
)

// EncodeCaps returns a CAPS message announcing caps.
func EncodeCaps(caps uint32) []byte { return encodeU32(MsgCaps, caps) }

// encodeU32 returns a message of type typ holding v.
func encodeU32(typ byte, v uint32) []byte {
	b := make([]byte, 5)
	b[0] = typ
	binary.BigEndian.PutUint32(b[1:], v)
	return b
}

// ConsumedEvery is how often a peer reports: after every FRAME it applies and whenever it
// applied this many bytes since its last report.
const ConsumedEvery = 64 << 10

// EncodeConsumed returns a CONSUMED message for n bytes applied.
func EncodeConsumed(n uint32) []byte { return encodeU32(MsgConsumed, n) }

// DecodePeerDisplay parses a message a peer sent on the display channel: its type (MsgConsumed,
// MsgCaps or MsgRefresh) and its value (0 for MsgRefresh).
func DecodePeerDisplay(b []byte) (typ byte, v uint32, err error) {
	switch {
	case len(b) == 0:
		return 0, 0, fmt.Errorf("%w: empty display message", ErrMalformed)
	case b[0] == MsgRefresh && len(b) == 1:
		return MsgRefresh, 0, nil
	case b[0] == MsgRefresh:
		return 0, 0, fmt.Errorf("%w: REFRESH of %d bytes", ErrMalformed, len(b))
	case b[0] != MsgConsumed && b[0] != MsgCaps:
		return 0, 0, fmt.Errorf("%w: display message type 0x%02x from a peer", ErrUnknownType, b[0])
	case len(b) != 5:
		return 0, 0, fmt.Errorf("%w: message 0x%02x of %d bytes", ErrMalformed, b[0], len(b))
	}
	return b[0], binary.BigEndian.Uint32(b[1:]), nil
}

// Consumption counts the display bytes a peer applied and says when to report them.
type Consumption struct {
	n, reported uint32
}

// Applied counts message b as applied and returns the CONSUMED message to send now, or nil.
func (c *Consumption) Applied(b []byte) []byte {
	c.n += uint32(len(b))
	if c.n-c.reported < ConsumedEvery && (len(b) == 0 || b[0] != MsgFrame) {
		return nil
	}
	c.reported = c.n
	return EncodeConsumed(c.n)
}
