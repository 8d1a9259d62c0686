package relay

import (
	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"peerdesk/signaling/proto"
)

// sigQueue bounds the frames waiting for the writer.
const sigQueue = 256

// sigConn is the agent's WebSocket to the signaling server. A send that fails has closed the
// connection, which ends the agent's read loop and reconnects it: senders need not look.
type sigConn struct{ *proto.Conn }

func newSigConn(ws *websocket.Conn, log zerolog.Logger) *sigConn {
	return &sigConn{proto.NewConn(ws, sigQueue, log)}
}

// send queues m.
func (c *sigConn) send(m proto.Message) { _ = c.Send(m) }

// read returns the next valid message.
func (c *sigConn) read() (proto.Message, error) { return c.Read() }

// close closes the connection and waits for its writer.
func (c *sigConn) close() { c.Close() }
