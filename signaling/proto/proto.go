// Package proto holds the signaling messages exchanged over WebSocket between the
// signaling server, peers and relay agents (docs/PROTOCOL.md, section 2).
package proto

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// MaxMessage is the largest signaling frame either side accepts.
const MaxMessage = 64 * 1024

// MaxSDP is the largest SDP accepted in an offer or answer.
const MaxSDP = 32 * 1024

// Timings every signaling WebSocket follows (docs/PROTOCOL.md, section 2).
const (
	// PingPeriod is how often the server pings.
	PingPeriod = 20 * time.Second
	// ReadTimeout is how long either side waits for a frame (a ping counts) before it drops
	// the connection.
	ReadTimeout = 45 * time.Second
	// WriteTimeout is how long either side may take to write one frame.
	WriteTimeout = 10 * time.Second
)

// WebSocket close codes the server closes an agent with.
const (
	// CloseReplaced: another agent holding the same connection's token connected. The replaced
	// agent waits a long backoff before it tries again, so that two holders of one token do
	// not take turns replacing each other many times a second.
	CloseReplaced = 4001
	// CloseTokenRevoked: an administrator gave the connection a new agent token; the old one
	// is refused from now on.
	CloseTokenRevoked = 4002
)

// Message types.
const (
	TypeHello     = "hello"
	TypeState     = "state"
	TypeOffer     = "offer"
	TypeAnswer    = "answer"
	TypeCandidate = "candidate"
	TypeError     = "error"
	TypeJoin      = "join"
	TypeLeave     = "leave"
	// TypeICEServers carries fresh ICE servers (new TURN credentials) before the previous
	// ones expire; they apply to the allocations made from then on.
	TypeICEServers = "ice-servers"
	// TypeWaiting tells a session's owner and members who waits to be let in through a link
	// whose profile admits each guest: the whole list (Waiting), empty when nobody waits.
	TypeWaiting = "waiting"
	// TypeAdmit, from an owner or member, lets the waiting peer Peer in (Allow) or not.
	TypeAdmit = "admit"
	// TypeDraining tells a peer that its server is shutting down (Message says so): its
	// session goes on until the server's drain deadline; a peer that reconnects then lands on
	// another node behind the same load balancer.
	TypeDraining = "draining"
)

// Host states carried by TypeState.
const (
	StateHostAvailable   = "host-available"
	StateHostUnavailable = "host-unavailable"
	StateEnded           = "ended"
	// StateWaiting: the peer waits for the host to let it in (TypeAdmit); nothing of the
	// session reaches it before.
	StateWaiting = "waiting"
)

// Error codes carried by TypeError.
const (
	CodeBadMessage      = "bad-message"
	CodeUnknownType     = "unknown-type"
	CodeBadSDP          = "bad-sdp"
	CodeHostUnavailable = "host-unavailable"
	CodeUnknownPeer     = "unknown-peer"
	CodeInternal        = "internal"
	// CodeRenegotiate tells a peer that the agent dropped its peer connection (its display
	// stream or control channel failed): it should offer a new one.
	CodeRenegotiate = "renegotiate"
	// CodeRateLimited tells a peer it sent more than its signaling budget allows, or more than
	// the host's queue could take: the server disconnects it.
	CodeRateLimited = "rate-limited"
)

// Participant roles.
const (
	RoleOwner  = "owner"
	RoleMember = "member"
	RoleGuest  = "guest"
	// RoleRecorder is the server's own session recorder: read-only, never listed in presence
	// or Active Sessions, never charged to a user or a link.
	RoleRecorder = "recorder"
)

// ErrBadMessage is returned by Decode for a frame that is not a valid message.
var ErrBadMessage = errors.New("proto: bad message")

// Identity names a participant.
type Identity struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// Candidate is an RTCIceCandidateInit; an empty (or JSON null) Candidate string ends the
// candidates.
type Candidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// ICEServer is an RTCIceServer.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Connection names a connection: the one an agent serves, or a peer's session's.
type Connection struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// SessionInfo names the live session a peer joined and its connection.
type SessionInfo struct {
	ID         string      `json:"id"`
	Connection *Connection `json:"connection"`
	// Recording says the session is recorded: everyone in it is shown so.
	Recording bool `json:"recording,omitempty"`
}

// Waiter is a guest waiting to be let in: its peer id, the name it gave and its address.
type Waiter struct {
	Peer    string `json:"peer"`
	Name    string `json:"name"`
	Address string `json:"address"`
}

// Message is one signaling frame; which fields are set depends on Type.
type Message struct {
	Type       string       `json:"type"`
	Peer       string       `json:"peer,omitempty"`
	SDP        string       `json:"sdp,omitempty"`
	Candidate  *Candidate   `json:"candidate,omitempty"`
	Identity   *Identity    `json:"identity,omitempty"`
	ReadOnly   bool         `json:"readOnly,omitempty"`
	ICEServers []ICEServer  `json:"iceServers,omitempty"`
	Session    *SessionInfo `json:"session,omitempty"`
	State      string       `json:"state,omitempty"`
	Connection *Connection  `json:"connection,omitempty"`
	Code       string       `json:"code,omitempty"`
	Message    string       `json:"message,omitempty"`
	Waiting    []Waiter     `json:"waiting,omitempty"`
	// AskControl, in a join: the peer must ask the owner for control before its input counts.
	AskControl bool `json:"askControl,omitempty"`
	// RecordKeys, in the join of the server's recorder (RoleRecorder): the recording keeps key
	// and clipboard input too; without it the relay sends the recorder pointer input only.
	RecordKeys bool `json:"recordKeys,omitempty"`
	Allow      bool `json:"allow,omitempty"`
	// Nodes, in a peer's hello from a cluster: the origins of its nodes, where the peer may
	// reconnect when its own is lost.
	Nodes []string `json:"nodes,omitempty"`
}

// Encode returns the JSON form of m.
func (m Message) Encode() []byte {
	b, _ := json.Marshal(m) // plain fields always marshal
	return b
}

// Decode parses one frame and checks the fields its type requires.
func Decode(b []byte) (Message, error) {
	if len(b) > MaxMessage {
		return Message{}, fmt.Errorf("%w: %d bytes, limit %d", ErrBadMessage, len(b), MaxMessage)
	}
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		return Message{}, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	switch m.Type {
	case "":
		return Message{}, fmt.Errorf("%w: missing type", ErrBadMessage)
	case TypeOffer, TypeAnswer:
		if m.SDP == "" || len(m.SDP) > MaxSDP {
			return Message{}, fmt.Errorf("%w: %s needs an sdp of 1 to %d bytes", ErrBadMessage, m.Type, MaxSDP)
		}
	case TypeCandidate:
		if m.Candidate == nil {
			return Message{}, fmt.Errorf("%w: candidate message without candidate", ErrBadMessage)
		}
	case TypeAdmit:
		if m.Peer == "" || len(m.Peer) > 64 {
			return Message{}, fmt.Errorf("%w: admit names no peer", ErrBadMessage)
		}
	}
	return m, nil
}
