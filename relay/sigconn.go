package relay

import (
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"peerdesk/signaling/proto"
)

// sigQueue bounds the frames waiting for the writer.
const sigQueue = 256

// sigConn is the agent's WebSocket to the signaling server: reads happen on the caller's
// goroutine, writes on one writer goroutine fed by a bounded queue, so pion callbacks that
// send candidates never block.
type sigConn struct {
	ws   *websocket.Conn
	log  zerolog.Logger
	out  chan []byte
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

func newSigConn(ws *websocket.Conn, log zerolog.Logger) *sigConn {
	c := &sigConn{ws: ws, log: log, out: make(chan []byte, sigQueue), done: make(chan struct{})}
	ws.SetReadLimit(proto.MaxMessage)
	_ = ws.SetReadDeadline(time.Now().Add(proto.ReadTimeout))
	pong := ws.PingHandler() // gorilla's: answers with a pong
	ws.SetPingHandler(func(data string) error {
		_ = ws.SetReadDeadline(time.Now().Add(proto.ReadTimeout))
		return pong(data)
	})
	c.wg.Add(1)
	go c.writeLoop()
	return c
}

func (c *sigConn) writeLoop() {
	defer c.wg.Done()
	for {
		select {
		case b := <-c.out:
			_ = c.ws.SetWriteDeadline(time.Now().Add(proto.WriteTimeout))
			if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
				c.log.Warn().Err(err).Msg("signaling write failed")
				c.shut()
				return
			}
		case <-c.done:
			return
		}
	}
}

// send queues m; if the queue is full the connection is too slow and is closed.
func (c *sigConn) send(m proto.Message) {
	select {
	case c.out <- m.Encode():
	case <-c.done:
	default:
		c.log.Warn().Msg("signaling send queue full; closing the connection")
		c.shut()
	}
}

// read returns the next valid message; invalid frames from the server are logged and skipped.
func (c *sigConn) read() (proto.Message, error) {
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			return proto.Message{}, err
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(proto.ReadTimeout))
		m, err := proto.Decode(b)
		if err != nil {
			c.log.Warn().Err(err).Msg("bad frame from signaling server")
			continue
		}
		return m, nil
	}
}

// shut stops the writer and closes the socket, which ends read; safe from any goroutine.
func (c *sigConn) shut() {
	c.once.Do(func() {
		close(c.done)
		_ = c.ws.Close()
	})
}

// close shuts the connection and waits for the writer.
func (c *sigConn) close() {
	c.shut()
	c.wg.Wait()
}
