package proto

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"
)

// ErrQueueFull reports that Send found the queue full: the writer has been stuck on the socket
// (for up to WriteTimeout). The connection is then closed.
var ErrQueueFull = errors.New("proto: signaling send queue full")

// errClosed reports a Send on a closed connection.
var errClosed = errors.New("proto: signaling connection closed")

// Conn is a client's WebSocket to the signaling server, an agent's or a peer's: Read on one
// goroutine, Send from any without blocking — a writer goroutine drains a bounded queue — so
// that pion's callbacks, which send candidates, never wait for the network. A failed write or
// a full queue closes the connection, which ends Read.
type Conn struct {
	ws   *websocket.Conn
	log  zerolog.Logger
	out  chan []byte
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup

	mu  sync.Mutex
	err error // why the connection was shut, if it was not Close
}

// NewConn takes over ws: it bounds what ws reads (MaxMessage, ReadTimeout renewed by every
// frame and ping) and starts the writer, which holds up to queue frames. log receives the
// frames skipped and the failures; sample it if the server could make them frequent.
func NewConn(ws *websocket.Conn, queue int, log zerolog.Logger) *Conn {
	c := &Conn{ws: ws, log: log, out: make(chan []byte, queue), done: make(chan struct{})}
	ws.SetReadLimit(MaxMessage)
	_ = ws.SetReadDeadline(time.Now().Add(ReadTimeout))
	pong := ws.PingHandler() // gorilla's: answers with a pong
	ws.SetPingHandler(func(data string) error {
		_ = ws.SetReadDeadline(time.Now().Add(ReadTimeout))
		return pong(data)
	})
	c.wg.Add(1)
	go c.writeLoop()
	return c
}

func (c *Conn) writeLoop() {
	defer c.wg.Done()
	for {
		select {
		case b := <-c.out:
			_ = c.ws.SetWriteDeadline(time.Now().Add(WriteTimeout))
			if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
				c.shut(fmt.Errorf("signaling write: %w", err))
				return
			}
		case <-c.done:
			return
		}
	}
}

// Send queues m for the writer. It fails, without waiting, if the connection is closed or its
// queue is full (ErrQueueFull, which closes it).
func (c *Conn) Send(m Message) error {
	select {
	case <-c.done:
		return errClosed
	default:
	}
	select {
	case c.out <- m.Encode():
		return nil
	default:
		c.log.Warn().Msg("signaling send queue full; closing the connection")
		c.shut(ErrQueueFull)
		return ErrQueueFull
	}
}

// Read returns the next valid message. Frames that are not text or do not decode are logged
// and skipped: the server answers ours the same way (docs/PROTOCOL.md, section 2). Once the
// connection is shut, Read returns why.
func (c *Conn) Read() (Message, error) {
	for {
		typ, b, err := c.ws.ReadMessage()
		if err != nil {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.err != nil {
				return Message{}, c.err
			}
			return Message{}, err
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(ReadTimeout))
		if typ != websocket.TextMessage {
			c.log.Warn().Int("frame", typ).Msg("signaling: non-text frame skipped")
			continue
		}
		m, err := Decode(b)
		if err != nil {
			c.log.Warn().Err(err).Msg("signaling: bad frame skipped")
			continue
		}
		return m, nil
	}
}

// shut stops the writer and closes the socket, which ends Read, recording why; safe from any
// goroutine, and once.
func (c *Conn) shut(why error) {
	c.once.Do(func() {
		if why != nil {
			c.log.Warn().Err(why).Msg("signaling connection closed")
			c.mu.Lock()
			c.err = why
			c.mu.Unlock()
		}
		close(c.done)
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		_ = c.ws.Close()
	})
}

// Close says goodbye to the server, closes the socket and waits for the writer. Safe to call
// more than once, from any goroutine.
func (c *Conn) Close() {
	c.shut(nil)
	c.wg.Wait()
}

// Queued returns how many frames wait for the writer.
func (c *Conn) Queued() int { return len(c.out) }
