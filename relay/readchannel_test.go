package relay

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"peerdesk/relay/wire"
	"peerdesk/signaling/proto"
)

// TestChannelMessageSizes: the agent reads its detached channels with a small buffer, yet takes
// messages up to wire.MaxMessage (a full clipboard on input, a long control message answered
// as usual); for a message over wire.MaxMessage the peer is asked for a new peer connection,
// the stream being stuck behind it.
func TestChannelMessageSizes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	a, f, tp := startFakeSession(ctx, t)
	codes := make(chan string, 16)
	tp.control.OnMessage(func(m webrtc.DataChannelMessage) {
		if c, err := wire.DecodeControl(m.Data); err == nil && c.Type == wire.ControlError {
			codes <- c.Code
		}
	})
	waitCode := func(want string) {
		t.Helper()
		for {
			select {
			case c := <-codes:
				if c == want {
					return
				}
			case <-ctx.Done():
				t.Fatalf("no %s error on the control channel", want)
			}
		}
	}

	clip := wire.EncodeClipboard(strings.Repeat("é", wire.MaxClipboard/2))
	if len(clip) <= readBuffer {
		t.Fatalf("a clipboard message of %d bytes fits the read buffer", len(clip))
	}
	applied := a.Stats().InputApplied
	if err := tp.input.Send(clip); err != nil {
		t.Fatal(err)
	}
	if err := tp.input.Send(wire.EncodePointer(10, 10, 0)); err != nil { // after it, in the small buffer again
		t.Fatal(err)
	}
	for a.Stats().InputApplied < applied+2 {
		select {
		case <-ctx.Done():
			t.Fatalf("input applied %d, want %d", a.Stats().InputApplied-applied, 2)
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := tp.control.SendText(`{"type":"` + strings.Repeat("x", 4*readBuffer) + `"}`); err != nil {
		t.Fatal(err)
	}
	waitCode(wire.CodeUnknownType)

	p := a.peer(testPeer)
	var pc *webrtc.PeerConnection
	p.call(func() { pc = p.pc })
	if err := tp.input.Send(bytes.Repeat([]byte{wire.MsgClipboard}, wire.MaxMessage+1)); err != nil {
		t.Fatal(err)
	}
	// A bad-message error goes out on the control channel too, but the peer connection it
	// would travel on is being closed: what the peer surely gets is the request on signaling.
	f.waitError(ctx, t, proto.CodeRenegotiate)
	var same bool
	p.call(func() { same = p.pc == pc })
	if same {
		t.Fatal("the peer connection stuck behind an oversized message was kept")
	}
}
