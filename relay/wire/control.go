package wire

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"peerdesk/signaling/proto"
)

// Control message types (docs/PROTOCOL.md, 3.1).
const (
	ControlWelcome   = "welcome"
	ControlError     = "error"
	ControlDesktop   = "desktop"   // relay → peer: the desktop's State and, when unavailable, why
	ControlClipboard = "clipboard" // relay → full-access peer: the host clipboard's Text
	ControlPresence  = "presence"  // relay → peer: the roster (Seq, Participants, Joined, Left)
	ControlLink      = "link"      // relay → peer: whether the peer's link is the limit (State, Rate, Lighter)
	ControlPointers  = "pointers"  // relay → peer: where the other participants point (Pointers)
	// ControlInput goes to the server's recorder only: an input the relay applied (Peer, Name,
	// Input; key and clipboard input only if the recording keeps keys).
	ControlInput = "input"
	// ControlControl tells every peer the hand-off state: who holds control (Holder), who
	// asked (Requests) and whether the owner's switch makes everyone ask (On).
	ControlControl = "control"
	// Hand-off requests, peer → relay: a participant asks for control or gives it back; the
	// owner gives it to Peer, takes it back, or flips the switch (On).
	ControlRequestControl = "request-control"
	ControlReleaseControl = "release-control"
	ControlGiveControl    = "give-control"
	ControlTakeControl    = "take-control"
	ControlHandoff        = "handoff"
)

// ControlHolder names a participant in a control message.
type ControlHolder struct {
	Peer string `json:"peer"`
	Name string `json:"name"`
}

// MaxPointers bounds the pointers of one pointers message: the most recently moved.
const MaxPointers = 32

// Pointer is where one other participant's pointer is over the desktop: its peer id, the
// name it is shown under, its colour (an index into the page's palette, 0 to 11) and its
// position.
type Pointer struct {
	Peer  string `json:"peer"`
	Name  string `json:"name"`
	Color int    `json:"color"`
	X     int    `json:"x"`
	Y     int    `json:"y"`
}

// Link states of a link control message.
const (
	LinkOK      = "ok"
	LinkLimited = "limited"
)

// Desktop states of a desktop control message.
const (
	DesktopAvailable   = "available"
	DesktopUnavailable = "unavailable"
)

// Error codes of control error messages (docs/PROTOCOL.md, 3.1).
const (
	// CodeBadInput answers a malformed or out-of-range input message.
	CodeBadInput = "bad-input"
	// CodeBadMessage answers a control message that is not a JSON object with a type.
	CodeBadMessage = "bad-message"
	// CodeUnknownType answers a control message of a type the relay does not accept.
	CodeUnknownType = "unknown-type"
	// CodeDesktopUnavailable answers input sent while the host desktop is unavailable.
	CodeDesktopUnavailable = "desktop-unavailable"
	// CodeNotAllowed answers a hand-off request the sender may not make.
	CodeNotAllowed = "not-allowed"
)

// Identity names a participant as the signaling server vouched for it.
type Identity struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// Participant is one identity present on a live session, in a presence message: every
// connection under one name, grouped as proto.GroupByName does.
type Participant = proto.Group

// Control is a message on the control channel.
type Control struct {
	Type     string    `json:"type"`
	Peer     string    `json:"peer,omitempty"`
	Identity *Identity `json:"identity,omitempty"`
	ReadOnly bool      `json:"readOnly,omitempty"`
	Width    int       `json:"width,omitempty"`
	Height   int       `json:"height,omitempty"`
	Code     string    `json:"code,omitempty"`
	Message  string    `json:"message,omitempty"`
	State    string    `json:"state,omitempty"`
	Text     string    `json:"text,omitempty"`
	// Rate and Lighter make a link message with State: the delivery rate the relay measured,
	// in bytes per second, and whether photographic tiles come at the lighter rendition.
	Rate    uint64 `json:"rate,omitempty"`
	Lighter bool   `json:"lighter,omitempty"`
	// Seq, Participants, Joined and Left make a presence message (docs/PROTOCOL.md, 3.1):
	// Seq ≥ 1, Participants never empty (it holds the receiver), Joined and Left omitted when
	// empty.
	Seq          uint64        `json:"seq,omitempty"`
	Participants []Participant `json:"participants,omitempty"`
	Joined       []Participant `json:"joined,omitempty"`
	Left         []Participant `json:"left,omitempty"`
	// Pointers makes a pointers message: every other participant's pointer seen lately, at
	// most MaxPointers; an empty one (no field) hides them all.
	Pointers []Pointer `json:"pointers,omitempty"`
	// AskControl, in a welcome: the peer's input counts only while it holds control.
	AskControl bool `json:"askControl,omitempty"`
	// Holder, Requests and On make a control message; On also a handoff request.
	Holder   *ControlHolder  `json:"holder,omitempty"`
	Requests []ControlHolder `json:"requests,omitempty"`
	On       bool            `json:"on,omitempty"`
	// Name and Input make an input message with Peer: who sent the input message Input (3.3).
	Name  string `json:"name,omitempty"`
	Input []byte `json:"input,omitempty"`
}

// Encode returns the JSON form of c.
func (c Control) Encode() []byte {
	b, _ := json.Marshal(c) // strings, ints, bools and slices of such structs always marshal
	return b
}

// DecodeControl parses a control message.
func DecodeControl(b []byte) (Control, error) {
	if len(b) > MaxMessage {
		return Control{}, fmt.Errorf("%w: control message of %d bytes", ErrTooLarge, len(b))
	}
	var c Control
	if err := json.Unmarshal(b, &c); err != nil {
		return Control{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if c.Type == "" {
		return Control{}, fmt.Errorf("%w: control message without type", ErrMalformed)
	}
	return c, nil
}

// EncodeClipboardControl returns the clipboard control message carrying text, cut short at the
// end (on a character boundary) if its JSON form would exceed MaxMessage: escaping may make a
// MaxClipboard text up to six times longer.
func EncodeClipboardControl(text string) []byte {
	encode := func(n int) []byte {
		for n < len(text) && n > 0 && !utf8.RuneStart(text[n]) {
			n--
		}
		return Control{Type: ControlClipboard, Text: text[:n]}.Encode()
	}
	if b := encode(len(text)); len(b) <= MaxMessage {
		return b
	}
	lo, hi := 0, len(text) // the longest prefix that fits is at least lo and shorter than hi
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if len(encode(mid)) <= MaxMessage {
			lo = mid
		} else {
			hi = mid
		}
	}
	return encode(lo)
}
