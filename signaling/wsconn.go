package signaling

import (
	"context"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"peerdesk/signaling/proto"
)

// Limits of every signaling WebSocket besides the timings in proto (docs/PROTOCOL.md, section 2).
const (
	closeTimeout = time.Second // flushing the queue, the close frame and awaiting the reply
	sendQueueLen = 128         // frames queued per peer connection before it counts as stuck
	// agentQueueLen is an agent's queue: it carries every peer's signaling, and a peer's frame
	// that finds it full is refused (trySend) rather than the agent closed.
	agentQueueLen = 2048
	maxBadFrames  = 20 // bad frames tolerated; the next one disconnects
)

// refusal is the reason a frame was refused, sent back as an error message.
type refusal struct {
	code    string
	message string
}

// counts reports whether the refusal counts towards maxBadFrames: only malformed frames
// do, not the races of normal operation (a host that just left, a peer that just left).
func (r *refusal) counts() bool {
	return r.code == proto.CodeBadMessage || r.code == proto.CodeUnknownType
}

// frameConn is what a wsConn runs on: a *websocket.Conn, or on a cluster node the pipe of a
// socket another node accepted (pipe.go).
type frameConn interface {
	SetReadLimit(limit int64)
	SetReadDeadline(t time.Time) error
	SetPongHandler(h func(appData string) error)
	ReadMessage() (messageType int, p []byte, err error)
	SetWriteDeadline(t time.Time) error
	WriteMessage(messageType int, data []byte) error
	WriteControl(messageType int, data []byte, deadline time.Time) error
	Close() error
}

// cutWrites makes a write in progress on c fail at t (a *websocket.Conn's deadline applies
// to the next write only).
func cutWrites(c frameConn, t time.Time) {
	if ws, ok := c.(*websocket.Conn); ok {
		_ = ws.NetConn().SetWriteDeadline(t)
	}
}

// wsConn is one signaling WebSocket: a reader (the goroutine calling serve) and a writer
// goroutine draining a bounded queue, so that no sender ever blocks on a slow connection.
type wsConn struct {
	ws  frameConn
	log zerolog.Logger
	out chan []byte // never closed: several goroutines send on it

	ctx       context.Context // done once the connection is closing
	cancel    context.CancelFunc
	closeOnce sync.Once
	closeCode int // written once before cancel; read by the writer after ctx is done
	closeText string

	readDone chan struct{} // closed when the read loop has returned
}

func newWSConn(ws frameConn, log zerolog.Logger, queue int) *wsConn {
	ctx, cancel := context.WithCancel(context.Background())
	return &wsConn{
		ws:       ws,
		log:      log,
		out:      make(chan []byte, queue),
		ctx:      ctx,
		cancel:   cancel,
		readDone: make(chan struct{}),
	}
}

// send queues one encoded frame without blocking. A connection whose queue is full is
// closed: it is not reading, and waiting for it would stall everyone else.
func (c *wsConn) send(frame []byte) {
	if c.ctx.Err() != nil {
		return
	}
	select {
	case c.out <- frame:
	default:
		c.log.Warn().Msg("send queue full, disconnecting")
		c.close(websocket.ClosePolicyViolation, "too slow")
	}
}

// trySend queues one encoded frame without blocking and reports whether it could: a full
// queue leaves the connection open (the sender is to blame, not this connection).
func (c *wsConn) trySend(frame []byte) bool {
	if c.ctx.Err() != nil {
		return true // closing: the frame would be dropped anyway
	}
	select {
	case c.out <- frame:
		return true
	default:
		return false
	}
}

// close starts closing the connection with a close frame of the given code; the first
// call wins. It does not block. A write in progress gets closeTimeout more to finish, so
// that a peer that stopped reading does not hold the writer for the whole proto.WriteTimeout.
func (c *wsConn) close(code int, text string) {
	c.closeOnce.Do(func() {
		c.closeCode, c.closeText = code, text
		c.cancel()
		cutWrites(c.ws, time.Now().Add(closeTimeout))
	})
}

// serve runs the connection until it ends, handing every well-formed frame to handle and
// answering refused or malformed frames with an error message. It returns once the writer
// has stopped and the network connection is closed.
func (c *wsConn) serve(handle func(proto.Message) *refusal) {
	c.serveFrames(func(data []byte) *refusal {
		m, err := proto.Decode(data)
		if err != nil {
			return &refusal{proto.CodeBadMessage, err.Error()}
		}
		return handle(m)
	})
}

// serveFrames is serve handing over each text frame undecoded.
func (c *wsConn) serveFrames(handle func([]byte) *refusal) {
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	c.readLoop(handle)
	c.close(websocket.CloseNormalClosure, "")
	<-writerDone
}

func (c *wsConn) readLoop(handle func([]byte) *refusal) {
	defer close(c.readDone)
	// An oversized frame makes gorilla close the connection with 1009 (message too big)
	// rather than answer with an error: reading it would cost memory for nothing.
	c.ws.SetReadLimit(proto.MaxMessage)
	_ = c.ws.SetReadDeadline(time.Now().Add(proto.ReadTimeout))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(proto.ReadTimeout))
	})
	bad := 0
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			c.log.Debug().Err(err).Msg("read ended")
			return
		}
		var r *refusal
		if typ != websocket.TextMessage {
			r = &refusal{proto.CodeBadMessage, "signaling frames must be text"}
		} else {
			r = handle(data)
		}
		if r == nil {
			continue
		}
		if r.counts() {
			bad++
			if bad > maxBadFrames {
				c.log.Warn().Int("bad_frames", bad).Msg("too many bad frames, disconnecting")
				c.close(websocket.ClosePolicyViolation, "too many bad frames")
				return
			}
		}
		c.send(proto.Message{Type: proto.TypeError, Code: r.code, Message: r.message}.Encode())
	}
}

func (c *wsConn) writeLoop() {
	ping := time.NewTicker(proto.PingPeriod)
	defer ping.Stop()
	for {
		select {
		case frame := <-c.out:
			// The deadline is set before looking at ctx: a close after the look shortens it.
			_ = c.ws.SetWriteDeadline(time.Now().Add(proto.WriteTimeout))
			if c.ctx.Err() != nil {
				c.finish(frame)
				return
			}
			if err := c.ws.WriteMessage(websocket.TextMessage, frame); err != nil {
				c.log.Debug().Err(err).Msg("write failed")
				c.close(websocket.CloseGoingAway, "write failed")
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(proto.WriteTimeout)); err != nil {
				c.log.Debug().Err(err).Msg("ping failed")
				c.close(websocket.CloseGoingAway, "ping failed")
			}
		case <-c.ctx.Done():
			c.finish(nil)
			return
		}
	}
}

// finish writes pending (if not nil) and what is queued, so that an error or state sent
// just before closing arrives, then sends the close frame, gives the other side
// closeTimeout to answer it, and closes the network connection, which also ends the read
// loop.
func (c *wsConn) finish(pending []byte) {
	deadline := time.Now().Add(closeTimeout)
	_ = c.ws.SetWriteDeadline(deadline)
	flushing := pending == nil || c.ws.WriteMessage(websocket.TextMessage, pending) == nil
	for flushing {
		select {
		case frame := <-c.out:
			flushing = c.ws.WriteMessage(websocket.TextMessage, frame) == nil
		default:
			flushing = false
		}
	}
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(c.closeCode, c.closeText), deadline)
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-c.readDone:
	case <-t.C:
	}
	_ = c.ws.Close()
}
