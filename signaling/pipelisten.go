package signaling

import (
	"context"
	"net"
	"sync"
)

// pipeListener is a net.Listener of in-memory connections (net.Pipe): the server serves its
// own recorder through one, so that the recorder's requests never touch the network and are
// known to be the server's own (internalRequest).
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// Accept implements net.Listener.
func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener; dials fail from then on.
func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr implements net.Listener.
func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

// dial returns the client end of a new connection that Accept hands out.
func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		err := net.ErrClosed
		_, _ = client.Close(), server.Close()
		return nil, err
	case <-ctx.Done():
		_, _ = client.Close(), server.Close()
		return nil, ctx.Err()
	}
}

// pipeAddr is the address of both ends of a pipeListener's connections.
type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "recorder" }

// internalConn marks the context of requests that came through the pipeListener.
type internalConn struct{}

// internalRequest reports whether r came from the server itself (its recorder).
func internalRequest(ctx context.Context) bool {
	v, _ := ctx.Value(internalConn{}).(bool)
	return v
}
