package relay

import (
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"peerdesk/relay/wire"
)

// fakeControl is a control channel whose buffered amount the test sets; it records what is
// sent and calls the low-water callback when the test drains it.
type fakeControl struct {
	mu       sync.Mutex
	sent     []wire.Control
	buffered uint64
	low      func()
}

func (f *fakeControl) SendText(s string) error {
	c, err := wire.DecodeControl([]byte(s))
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, c)
	return nil
}

func (f *fakeControl) BufferedAmount() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.buffered
}

func (f *fakeControl) SetBufferedAmountLowThreshold(uint64) {}

func (f *fakeControl) OnBufferedAmountLow(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.low = fn
}

func (f *fakeControl) setBuffered(n uint64) {
	f.mu.Lock()
	f.buffered = n
	low := f.low
	f.mu.Unlock()
	if n == 0 && low != nil {
		low()
	}
}

func (f *fakeControl) types() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ts []string
	for _, c := range f.sent {
		ts = append(ts, c.Type+":"+c.State+c.Text+c.Code)
	}
	return ts
}

// TestControlSenderCoalescesAndBounds: the welcome goes first; while the channel is full,
// newer desktop, clipboard and link states replace older ones and errors are capped and
// rate-limited; once it drains each kind goes once, newest; a channel full for
// controlStuckAfter makes the sender call onStuck, once.
func TestControlSenderCoalescesAndBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ch := &fakeControl{buffered: controlHighWater + 1}
		stuck := make(chan struct{}, 2)
		welcome := wire.Control{Type: wire.ControlWelcome}.Encode()
		c := newControlSender(ch, welcome, zerolog.New(zerolog.NewTestWriter(t)), func() { stuck <- struct{}{} })
		defer c.close()
		for i, state := range []string{wire.DesktopUnavailable, wire.DesktopAvailable} {
			c.set(slotDesktop, wire.Control{Type: wire.ControlDesktop, State: state}.Encode())
			c.set(slotClipboard, wire.EncodeClipboardControl(string(rune('a'+i))))
			c.set(slotLink, wire.Control{Type: wire.ControlLink, State: []string{wire.LinkLimited, wire.LinkOK}[i]}.Encode())
		}
		queued := 0
		for range 20 {
			if c.error(wire.CodeBadInput, "bad") {
				queued++
			}
			time.Sleep(badInputInterval)
		}
		if queued != maxQueuedErrors {
			t.Fatalf("%d errors queued, want %d", queued, maxQueuedErrors)
		}
		if c.error(wire.CodeBadInput, "again") {
			t.Fatal("an error within badInputInterval of the last was queued")
		}
		if err := c.sendPresence([]byte(`{"type":"presence"}`)); err != errControlBusy {
			t.Fatalf("presence on a full channel: %v, want errControlBusy", err)
		}
		synctest.Wait()
		if n := len(ch.types()); n != 0 {
			t.Fatalf("%d messages sent on a full channel", n)
		}

		ch.setBuffered(0)
		synctest.Wait()
		want := []string{"welcome:", "desktop:available", "clipboard:b", "link:ok",
			"error:bad-input", "error:bad-input", "error:bad-input", "error:bad-input"}
		if got := ch.types(); !slices.Equal(got, want) {
			t.Fatalf("sent %q, want %q", got, want)
		}

		ch.setBuffered(controlHighWater + 1)
		c.set(slotDesktop, wire.Control{Type: wire.ControlDesktop, State: wire.DesktopUnavailable}.Encode())
		time.Sleep(controlStuckAfter + 2*controlPoll)
		synctest.Wait()
		if len(stuck) != 1 {
			t.Fatalf("onStuck called %d times after %v of a full channel, want once", len(stuck), controlStuckAfter)
		}
	})
}
