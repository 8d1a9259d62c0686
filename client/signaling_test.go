package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"peerdesk/signaling/proto"
)

// stuckSignaling returns a signaling socket with a queue of one whose writer is stuck: the
// server never reads, and the first message is far larger than the socket buffers.
func stuckSignaling(t *testing.T) *signaling {
	t.Helper()
	stop := make(chan struct{})
	var handlers sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers.Add(1)
		defer handlers.Done()
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		<-stop // never reads
		_ = c.Close()
	}))
	t.Cleanup(func() {
		close(stop)
		handlers.Wait()
		srv.Close()
	})
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	sig := &signaling{conn: proto.NewConn(ws, 1, testLogger(t))}
	t.Cleanup(sig.close)
	if err := sig.send(proto.Message{Type: proto.TypeOffer, SDP: strings.Repeat("a", 64<<20)}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); sig.conn.Queued() == 1; {
		if time.Now().After(deadline) {
			t.Fatal("the writer never took the first message")
		}
		time.Sleep(time.Millisecond)
	}
	return sig
}

// TestTrickleNeverBlocks checks that pion's candidate callback returns at once when the
// signaling send queue is full, ending the session as stuck, instead of waiting for the
// writer.
func TestTrickleNeverBlocks(t *testing.T) {
	checkLeaks(t)
	ctx := testContext(t)
	s := &Session{log: testLogger(t), sig: stuckSignaling(t)}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	t.Cleanup(func() { s.cancel(nil) })
	p := &peer{ctx: s.ctx, log: s.log}

	s.trickle(p, localCandidate(nil)) // fills the queue of one
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
	select {
	case <-s.Done():
	default:
		t.Fatal("session not done after its signaling got stuck")
	}
}
