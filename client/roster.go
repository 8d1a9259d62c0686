package client

import (
	"context"
	"fmt"
	"slices"

	"peerdesk/relay/wire"
)

// Roster is who is present on the live session, as the relay's last presence message said
// (docs/PROTOCOL.md, 3.1 presence).
type Roster struct {
	// Seq is the relay's roster version; 0 before the first presence message.
	Seq uint64
	// Participants are the identities present, this participant's own included, sorted by
	// name.
	Participants []wire.Participant
}

// Connections returns how many connections the identity name has on the roster (0 if none).
func (r Roster) Connections(name string) int {
	for _, p := range r.Participants {
		if p.Name == name {
			return p.Connections
		}
	}
	return 0
}

// Roster returns a copy of the last roster received.
func (s *Session) Roster() Roster {
	r, _ := s.rosterState()
	return r
}

// WaitRoster blocks until cond holds for the roster (as Roster returns it), checking it now
// and after each presence message. It fails like WaitFrames.
func (s *Session) WaitRoster(ctx context.Context, cond func(Roster) bool) error {
	for {
		r, next := s.rosterState()
		if cond(r) {
			return nil
		}
		if err := s.wait(ctx, next); err != nil {
			return err
		}
	}
}

// rosterState returns a copy of the roster and a channel closed at its next change.
func (s *Session) rosterState() (Roster, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Roster{Seq: s.roster.Seq, Participants: slices.Clone(s.roster.Participants)}, s.rosterChanged
}

// setRoster records the roster of a presence message, after checking it. Participants are
// empty only for the server's recorder, which is left out of the roster it gets.
func (s *Session) setRoster(c wire.Control) error {
	if c.Seq == 0 {
		return fmt.Errorf("%w: presence without seq", ErrProtocol)
	}
	for _, p := range c.Participants {
		if p.Name == "" || p.Connections < 1 {
			return fmt.Errorf("%w: presence entry %q with %d connections", ErrProtocol, p.Name, p.Connections)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roster = Roster{Seq: c.Seq, Participants: c.Participants}
	close(s.rosterChanged)
	s.rosterChanged = make(chan struct{})
	return nil
}
