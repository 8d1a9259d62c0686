package relay

import (
	"errors"
	"maps"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"

	"peerdesk/relay/wire"
	"peerdesk/signaling/proto"
)

// presenceInterval is the least time between two presence messages to one peer.
const presenceInterval = 100 * time.Millisecond

// presentConn is one connection present on the session.
type presentConn struct {
	identity wire.Identity
	readOnly bool
	pc       *webrtc.PeerConnection // whose control channel made the connection present
	sender   *presenceSender
}

// presence is the roster of the participants present on the agent's session (docs/PROTOCOL.md,
// 3.1 presence) and, for each present peer, the sender that keeps it told. Its methods never
// block on the network: a roster change only wakes the senders.
type presence struct {
	log      zerolog.Logger
	interval time.Duration

	mu     sync.Mutex
	seq    uint64                  // increases with every roster change
	conns  map[string]*presentConn // by peer id
	roster []wire.Participant      // conns grouped by name, sorted by name, as of seq
}

func newPresence(log zerolog.Logger, interval time.Duration) *presence {
	return &presence{log: log, interval: interval, conns: make(map[string]*presentConn)}
}

// join makes peer id present through its peer connection pc and starts the sender that tells
// the peer about the roster with send, first a snapshot, then every change. A previous
// presence of id ends.
func (r *presence) join(id string, pc *webrtc.PeerConnection, ident wire.Identity, readOnly bool, send func([]byte) error) {
	s := newPresenceSender(r, id, send, r.log.With().Str("peer", id).Logger())
	r.mu.Lock()
	old := r.conns[id]
	r.conns[id] = &presentConn{identity: ident, readOnly: readOnly, pc: pc, sender: s}
	r.changedLocked()
	r.mu.Unlock()
	if old != nil {
		old.sender.close()
	}
}

// leave ends the presence of peer id if its peer connection pc made it present (a newer peer
// connection of the same peer stays present), and returns once the peer's sender has stopped.
func (r *presence) leave(id string, pc *webrtc.PeerConnection) {
	r.mu.Lock()
	c := r.conns[id]
	if c == nil || c.pc != pc {
		r.mu.Unlock()
		return
	}
	delete(r.conns, id)
	r.changedLocked()
	r.mu.Unlock()
	c.sender.close()
}

// present reports whether peer id is present through its peer connection pc.
func (r *presence) present(id string, pc *webrtc.PeerConnection) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.conns[id]
	return c != nil && c.pc == pc
}

// changedLocked records a roster change and wakes every sender; r.mu is held.
func (r *presence) changedLocked() {
	r.seq++
	r.roster = proto.GroupByName(maps.Values(r.conns), func(c *presentConn) (string, string, bool) {
		return c.identity.Name, c.identity.Role, c.readOnly
	})
	for _, c := range r.conns {
		c.sender.wakeUp()
	}
}

// snapshot returns the roster and its seq (the slice is never modified), and whether s is
// still the sender of a present connection.
func (r *presence) snapshot(s *presenceSender) (seq uint64, roster []wire.Participant, current bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.conns[s.peer]
	return r.seq, r.roster, c != nil && c.sender == s
}

// presenceSender sends one peer the roster: woken by every change, it sends at most one
// presence message per interval, always the current roster, with the identities that joined
// and left since its previous message. A send that fails with errControlBusy (the peer's
// control channel is full) is tried again an interval later, with the roster of then.
type presenceSender struct {
	roster *presence
	peer   string
	send   func([]byte) error
	log    zerolog.Logger
	loop   // a wake-up is a pending roster change
}

func newPresenceSender(r *presence, peer string, send func([]byte) error, log zerolog.Logger) *presenceSender {
	s := &presenceSender{
		roster: r,
		peer:   peer,
		send:   send,
		log:    log,
		loop:   newLoop(),
	}
	go s.run()
	return s
}

func (s *presenceSender) run() {
	defer close(s.done)
	var (
		sentSeq uint64
		sent    []wire.Participant // the roster of the previous message, nil before the first
		last    time.Time
	)
	timer := time.NewTimer(s.roster.interval)
	timer.Stop()
	for {
		select {
		case <-s.wake:
		case <-s.stop:
			return
		}
		if wait := time.Until(last.Add(s.roster.interval)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-s.stop:
				return
			}
		}
		seq, roster, current := s.roster.snapshot(s)
		if !current || seq == sentSeq {
			continue
		}
		msg := presenceMessage(seq, roster, sent)
		if len(msg) > wire.MaxMessage {
			s.log.Warn().Int("identities", len(roster)).Msg("roster too large for a presence message: not sent")
			sentSeq = seq
			continue
		}
		err := s.send(msg)
		if errors.Is(err, errControlBusy) {
			last = time.Now() // try again, with the newest roster, an interval from now
			s.wakeUp()
			continue
		}
		if err != nil {
			s.log.Debug().Err(err).Msg("presence not sent")
		}
		sentSeq, sent, last = seq, roster, time.Now()
	}
}

// presenceMessage encodes the presence control message of roster, with the identities whose
// count rose (joined) or fell (left) since prev; a first message (prev nil) is a snapshot. A
// message too large for the channel goes without its joined and left lists: the roster
// alone still tells the truth.
func presenceMessage(seq uint64, roster, prev []wire.Participant) []byte {
	c := wire.Control{Type: wire.ControlPresence, Seq: seq, Participants: roster}
	if prev != nil {
		c.Joined, c.Left = rosterDiff(prev, roster)
	}
	b := c.Encode()
	if len(b) > wire.MaxMessage {
		c.Joined, c.Left = nil, nil
		b = c.Encode()
	}
	return b
}

// rosterDiff returns the identities of roster whose connection count rose since prev (with
// the new count) and those whose count fell (with the new count, 0 for an identity gone),
// each sorted by name. Both rosters are sorted by name.
func rosterDiff(prev, roster []wire.Participant) (joined, left []wire.Participant) {
	i, j := 0, 0
	for i < len(prev) || j < len(roster) {
		switch {
		case j == len(roster) || (i < len(prev) && prev[i].Name < roster[j].Name):
			gone := prev[i]
			gone.Connections = 0
			left = append(left, gone)
			i++
		case i == len(prev) || roster[j].Name < prev[i].Name:
			joined = append(joined, roster[j])
			j++
		default:
			if roster[j].Connections > prev[i].Connections {
				joined = append(joined, roster[j])
			} else if roster[j].Connections < prev[i].Connections {
				left = append(left, roster[j])
			}
			i++
			j++
		}
	}
	return joined, left
}
