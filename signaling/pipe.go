package signaling

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"

	"peerdesk/signaling/proto"
)

// A pipe carries one WebSocket between the node that accepted it (the front) and the node
// whose hub serves it (the home) over two NATS subjects: frames from the client go up, frames
// to it come down. Each NATS message is one byte of kind, then its data.
const (
	pipeFrame = 'm' // a text frame
	pipeClose = 'c' // a close frame: 2 bytes of code, then its text
	pipeGone  = 'x' // the other end is gone
	pipePing  = 'p' // a request: is the other end there? (answered with an empty reply)

	pipeQueue       = 256              // frames from the front waiting for the home's read loop
	pipePingTimeout = 5 * time.Second  // a ping's reply
	pipePingEvery   = 10 * time.Second // the front asks whether the home's end is there
)

var errPipeClosed = errors.New("pipe closed")

func pipeUp(id string) string   { return "peerdesk.pipe." + id + ".up" }
func pipeDown(id string) string { return "peerdesk.pipe." + id + ".down" }

func newPipeID() string { return rand.Text() }

// natsConn is the home's end of a pipe: the frameConn of a wsConn whose socket another node
// holds. The front enforces the read limit and the client's liveness; the home's pings check
// that the front is there.
type natsConn struct {
	nc   *nats.Conn
	down string
	sub  *nats.Subscription
	in   chan []byte
	done chan struct{}
	once sync.Once

	mu       sync.Mutex
	deadline time.Time
	pong     func(string) error
	limit    int64
}

// openNATSConn subscribes to pipe id's up subject and returns its home end.
func openNATSConn(nc *nats.Conn, id string) (*natsConn, error) {
	c := &natsConn{nc: nc, down: pipeDown(id), in: make(chan []byte, pipeQueue), done: make(chan struct{})}
	sub, err := nc.Subscribe(pipeUp(id), c.fromFront)
	if err != nil {
		return nil, err
	}
	c.sub = sub
	return c, nil
}

func (c *natsConn) fromFront(m *nats.Msg) {
	if len(m.Data) == 0 {
		return
	}
	switch m.Data[0] {
	case pipeFrame:
		select {
		case c.in <- m.Data[1:]:
		case <-c.done:
		default: // the client floods faster than the hub reads: as a full socket, it goes
			c.end()
		}
	case pipePing:
		_ = m.Respond(nil)
	case pipeGone:
		c.end()
	}
}

// end stops the pipe and tells the front, which closes the client's socket: reads fail from
// now on.
func (c *natsConn) end() {
	c.once.Do(func() {
		_ = c.nc.Publish(c.down, []byte{pipeGone})
		close(c.done)
		_ = c.sub.Unsubscribe()
	})
}

func (c *natsConn) SetReadLimit(limit int64) { c.mu.Lock(); c.limit = limit; c.mu.Unlock() }

func (c *natsConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return nil
}

func (c *natsConn) SetPongHandler(h func(string) error) { c.mu.Lock(); c.pong = h; c.mu.Unlock() }

func (c *natsConn) SetWriteDeadline(time.Time) error { return nil }

// ReadMessage returns the next frame from the front, or an error once the pipe ended or the
// read deadline passed.
func (c *natsConn) ReadMessage() (int, []byte, error) {
	for {
		c.mu.Lock()
		deadline, limit := c.deadline, c.limit
		c.mu.Unlock()
		var expired <-chan time.Time
		var t *time.Timer
		if !deadline.IsZero() {
			t = time.NewTimer(time.Until(deadline))
			expired = t.C
		}
		f, again, err := c.next(expired, limit)
		if t != nil {
			t.Stop()
		}
		if !again {
			return websocket.TextMessage, f, err
		}
	}
}

// next waits for a frame, the pipe's end or expired; again: the deadline was moved meanwhile.
func (c *natsConn) next(expired <-chan time.Time, limit int64) (f []byte, again bool, err error) {
	select {
	case f := <-c.in:
		if limit > 0 && int64(len(f)) > limit {
			c.end()
			return nil, false, websocket.ErrReadLimit
		}
		return f, false, nil
	case <-c.done:
		return nil, false, errPipeClosed
	case <-expired:
		c.mu.Lock()
		passed := !c.deadline.After(time.Now())
		c.mu.Unlock()
		if passed {
			c.end()
			return nil, false, errors.New("pipe: read deadline passed")
		}
		return nil, true, nil
	}
}

func (c *natsConn) publish(kind byte, data []byte) error {
	select {
	case <-c.done:
		return errPipeClosed
	default:
	}
	return c.nc.Publish(c.down, append([]byte{kind}, data...))
}

func (c *natsConn) WriteMessage(_ int, data []byte) error { return c.publish(pipeFrame, data) }

// WriteControl sends a close frame down, or pings the front: its reply counts as the pong,
// and a front that is gone ends the pipe.
func (c *natsConn) WriteControl(typ int, data []byte, _ time.Time) error {
	switch typ {
	case websocket.CloseMessage:
		return c.publish(pipeClose, data)
	case websocket.PingMessage:
		go func() {
			_, err := c.nc.Request(c.down, []byte{pipePing}, pipePingTimeout)
			switch {
			case err == nil:
				c.mu.Lock()
				h := c.pong
				c.mu.Unlock()
				if h != nil {
					_ = h("")
				}
			case errors.Is(err, nats.ErrNoResponders):
				c.end()
			}
		}()
	}
	return nil
}

// Close ends the pipe and tells the front.
func (c *natsConn) Close() error {
	c.end()
	return nil
}

// frontPipe is the front's end of a pipe: frames from home are queued on the client's
// wsConn, which may not exist yet (the home greets before the front has upgraded).
type frontPipe struct {
	nc  *nats.Conn
	up  string
	sub *nats.Subscription

	agent bool // the socket is an agent's

	mu      sync.Mutex
	ws      *wsConn
	pending [][]byte // down messages before the upgrade
	gone    bool     // the home ended the pipe before the upgrade
}

// openFrontPipe subscribes to pipe id's down subject; agent: the socket is an agent's.
func openFrontPipe(nc *nats.Conn, id string, agent bool) (*frontPipe, error) {
	p := &frontPipe{nc: nc, up: pipeUp(id), agent: agent}
	sub, err := nc.Subscribe(pipeDown(id), p.fromHome)
	if err != nil {
		return nil, err
	}
	p.sub = sub
	return p, nil
}

func (p *frontPipe) fromHome(m *nats.Msg) {
	if len(m.Data) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if m.Data[0] == pipePing {
		if !p.gone && (p.ws == nil || p.ws.ctx.Err() == nil) {
			_ = m.Respond(nil)
		}
		return
	}
	if p.ws == nil {
		if len(p.pending) < pipeQueue {
			p.pending = append(p.pending, m.Data)
		} else {
			p.gone = true
		}
		return
	}
	p.deliver(m.Data)
}

// deliver hands one down message to the client's socket. Callers hold p.mu.
func (p *frontPipe) deliver(data []byte) {
	switch data[0] {
	case pipeFrame:
		p.ws.send(data[1:])
	case pipeClose:
		code, text := websocket.CloseNormalClosure, ""
		if len(data) >= 3 {
			code, text = int(binary.BigEndian.Uint16(data[1:3])), string(data[3:])
		}
		p.ws.close(code, text)
	case pipeGone:
		p.ws.close(websocket.CloseGoingAway, "")
	}
}

// run serves the client's socket ws until it ends: its frames go up, the home's come down.
func (p *frontPipe) run(ws *wsConn) {
	p.mu.Lock()
	p.ws = ws
	for _, d := range p.pending {
		p.deliver(d)
	}
	p.pending = nil
	if p.gone {
		ws.close(websocket.CloseGoingAway, "")
	}
	p.mu.Unlock()
	stop, watched := make(chan struct{}), make(chan struct{})
	go func() { // the home's end may be gone without a word (its node lost NATS for a while)
		defer close(watched)
		t := time.NewTicker(pipePingEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			if _, err := p.nc.Request(p.up, []byte{pipePing}, pipePingTimeout); errors.Is(err, nats.ErrNoResponders) {
				ws.close(websocket.CloseServiceRestart, "the server node of this session cannot be reached")
				return
			}
		}
	}()
	ws.serveFrames(func(data []byte) *refusal {
		_ = p.nc.Publish(p.up, append([]byte{pipeFrame}, data...))
		return nil
	})
	close(stop)
	<-watched
	p.close()
}

// nodeLost ends the client's socket: its home node cannot be reached. A peer whose home
// failed is told the session ended with it (it does not come back: the session is gone);
// otherwise, and an agent always, it reconnects.
func (p *frontPipe) nodeLost(failed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ws == nil {
		p.gone = true
		return
	}
	if failed && !p.agent {
		p.ws.send(stateMessage(proto.StateEnded, msgNodeFailed))
		p.ws.close(websocket.CloseNormalClosure, "")
		return
	}
	p.ws.close(websocket.CloseServiceRestart, "the server node of this session cannot be reached")
}

// nodeLost ends the pipe: the front holding the client's socket cannot be reached.
func (c *natsConn) nodeLost(bool) { c.end() }

// close tells the home the client is gone and stops listening.
func (p *frontPipe) close() {
	_ = p.nc.Publish(p.up, []byte{pipeGone})
	_ = p.sub.Unsubscribe()
}
