package relay

import (
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"peerdesk/relay/wire"
)

// Limits of a peer's control channel.
const (
	// controlHighWater is the most bytes the control channel may buffer before its sender waits
	// (a few of the largest presence messages).
	controlHighWater = 256 << 10
	// controlStuckAfter is how long a control message may wait for a channel above high water
	// before the peer counts as stuck (it stopped reading) and is dropped.
	controlStuckAfter = 15 * time.Second
	// controlPoll is how often a waiting sender looks at the channel again, should a
	// low-water callback go amiss.
	controlPoll = time.Second
	// maxQueuedErrors bounds the error messages waiting; more are dropped.
	maxQueuedErrors = 4
	// maxQueuedInputs bounds the input messages waiting for a recorder; more are dropped.
	maxQueuedInputs = 1024
)

// errControlBusy reports a control channel above its high-water mark.
var errControlBusy = errors.New("relay: control channel above high water")

// controlChannel is a peer's control data channel as its sender sees it (a pion
// *webrtc.DataChannel satisfies it).
type controlChannel interface {
	SendText(s string) error
	BufferedAmount() uint64
	SetBufferedAmountLowThreshold(th uint64)
	OnBufferedAmountLow(f func())
}

// Kinds of control messages that coalesce: a newer one replaces one not yet sent.
const (
	slotWelcome = iota // sent first, once
	slotDesktop
	slotClipboard
	slotLink
	slotPointers
	slotControl
	slots
)

// controlSender sends one peer's control messages from a goroutine of its own, so that no
// caller ever waits for the peer: the welcome first, then the newest desktop, clipboard and
// link state, the others' pointers and the hand-off state (a newer message of a kind replaces one not yet sent) and a few error replies
// (rate-limited; more are dropped). It stops while the channel buffers more than
// controlHighWater; a message kept waiting for controlStuckAfter makes it call onStuck once.
// Presence goes through sendPresence, which the roster's sender calls at its own pace.
type controlSender struct {
	ch      controlChannel
	log     zerolog.Logger
	onStuck func()

	mu        sync.Mutex
	slots     [slots][]byte
	errs      [][]byte
	inputs    [][]byte // for a recorder: the inputs applied, in order (input)
	lastErr   time.Time
	busySince time.Time // when a message first had to wait, zero while none waits
	presence  bool      // a presence message waits (sendPresence found the channel busy)
	stuck     bool

	loop
}

// newControlSender starts the sender of ch; welcome is the first message it sends.
func newControlSender(ch controlChannel, welcome []byte, log zerolog.Logger, onStuck func()) *controlSender {
	c := &controlSender{
		ch:      ch,
		log:     log,
		onStuck: onStuck,
		loop:    newLoop(),
	}
	c.slots[slotWelcome] = welcome
	ch.SetBufferedAmountLowThreshold(controlHighWater / 2)
	ch.OnBufferedAmountLow(c.wakeUp)
	c.wakeUp()
	go c.run()
	return c
}

// set makes msg the message of its kind to send next.
func (c *controlSender) set(slot int, msg []byte) {
	c.mu.Lock()
	c.slots[slot] = msg
	c.mu.Unlock()
	c.wakeUp()
}

// error queues an error reply, at most one per badInputInterval; it reports whether it did.
func (c *controlSender) error(code, message string) bool {
	now := time.Now()
	c.mu.Lock()
	if now.Sub(c.lastErr) < badInputInterval || len(c.errs) >= maxQueuedErrors {
		c.mu.Unlock()
		return false
	}
	c.lastErr = now
	c.errs = append(c.errs, wire.Control{Type: wire.ControlError, Code: code, Message: message}.Encode())
	c.mu.Unlock()
	c.wakeUp()
	return true
}

// sendPresence sends a presence message now, or fails with errControlBusy while the channel
// is above high water (the roster's sender then tries again later with the newest roster).
func (c *controlSender) sendPresence(msg []byte) error {
	if c.ch.BufferedAmount() > controlHighWater {
		c.mu.Lock()
		c.presence = true
		c.mu.Unlock()
		c.waiting(time.Now())
		return errControlBusy
	}
	c.mu.Lock()
	c.presence = false
	if c.nextLocked() == nil {
		c.busySince = time.Time{}
	}
	c.mu.Unlock()
	return c.ch.SendText(string(msg))
}

// loop is the lifecycle of a sender goroutine: wake-ups that coalesce in one slot, a stop,
// and the goroutine's end (run closes done).
type loop struct {
	wake      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func newLoop() loop {
	return loop{wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// wakeUp asks the goroutine for a pass; it never blocks.
func (l *loop) wakeUp() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// close stops the goroutine and waits for it; safe to call more than once.
func (l *loop) close() {
	l.closeOnce.Do(func() { close(l.stop) })
	<-l.done
}

func (c *controlSender) run() {
	defer close(c.done)
	poll := time.NewTicker(controlPoll)
	defer poll.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		case <-poll.C:
		}
		c.flush()
	}
}

// flush sends what waits, in order, while the channel takes it.
func (c *controlSender) flush() {
	for {
		now := time.Now()
		c.mu.Lock()
		msg := c.nextLocked()
		if msg == nil {
			if !c.presence {
				c.busySince = time.Time{}
			}
			c.mu.Unlock()
			return
		}
		if c.ch.BufferedAmount() > controlHighWater {
			c.mu.Unlock()
			c.waiting(now)
			return
		}
		c.takeLocked()
		if !c.presence {
			c.busySince = time.Time{}
		}
		c.mu.Unlock()
		if err := c.ch.SendText(string(msg)); err != nil {
			c.log.Debug().Err(err).Msg("control message not sent")
		}
	}
}

// nextLocked returns the next message to send, nil for none; c.mu is held.
func (c *controlSender) nextLocked() []byte {
	for _, m := range c.slots {
		if m != nil {
			return m
		}
	}
	if len(c.errs) > 0 {
		return c.errs[0]
	}
	if len(c.inputs) > 0 {
		return c.inputs[0]
	}
	return nil
}

// takeLocked forgets the message nextLocked returned; c.mu is held.
func (c *controlSender) takeLocked() {
	for i, m := range c.slots {
		if m != nil {
			c.slots[i] = nil
			return
		}
	}
	if len(c.errs) > 0 {
		c.errs = c.errs[1:]
		return
	}
	c.inputs = c.inputs[1:]
}

// input queues an input message for a recorder; it reports false, queuing nothing, when
// maxQueuedInputs wait already.
func (c *controlSender) input(msg []byte) bool {
	c.mu.Lock()
	if len(c.inputs) >= maxQueuedInputs {
		c.mu.Unlock()
		return false
	}
	c.inputs = append(c.inputs, msg)
	c.mu.Unlock()
	c.wakeUp()
	return true
}

// waiting notes that a message waits for the channel, and tells onStuck once it has waited
// controlStuckAfter.
func (c *controlSender) waiting(now time.Time) {
	c.mu.Lock()
	if c.busySince.IsZero() {
		c.busySince = now
	}
	stuck := !c.stuck && now.Sub(c.busySince) >= controlStuckAfter
	c.stuck = c.stuck || stuck
	c.mu.Unlock()
	if stuck {
		c.log.Warn().Dur("waited", controlStuckAfter).Msg("control channel stuck: the peer stopped reading")
		c.onStuck()
	}
}
