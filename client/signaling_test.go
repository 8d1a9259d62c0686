package client

import (
	"context"
	"errors"
	"testing"

	"peerdesk/signaling/proto"
)

// TestTrickleNeverBlocks checks that pion's candidate callback returns at once when the
// signaling send queue is full, ending the session as stuck, instead of waiting for the
// writer.
func TestTrickleNeverBlocks(t *testing.T) {
	checkLeaks(t)
	ctx := testContext(t)
	s := &Session{log: testLogger(t), sig: &signaling{out: make(chan proto.Message, 1)}}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	t.Cleanup(func() { s.cancel(nil) })
	p := &peer{ctx: s.ctx, log: s.log}

	s.trickle(p, localCandidate(nil)) // fills the queue
	if err := s.Err(); err != nil {
		t.Fatalf("session failed with room in the queue: %v", err)
	}
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		s.trickle(p, localCandidate(nil))
	}()
	select {
	case <-returned:
	case <-ctx.Done():
		t.Fatal("the candidate callback blocked on a full signaling queue")
	}
	if err := s.Err(); !errors.Is(err, errSignalingStuck) {
		t.Fatalf("session error %v, want errSignalingStuck", err)
	}
	if n := len(s.sig.out); n != 1 {
		t.Fatalf("%d messages queued, want 1", n)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("session not done after its signaling got stuck")
	}
}
