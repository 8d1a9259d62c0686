package signaling

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
)

// A request for a live session on another node is forwarded whole over NATS to that node,
// which serves it as if it had arrived there: same handlers, same checks, same throttles (by
// the client's address, carried along). A WebSocket's upgrade is answered with 101, and its
// frames then flow through a pipe (pipe.go).

const (
	fwdTimeout  = 15 * time.Second // a forwarded request's answer
	fwdMaxReply = 700 << 10        // bytes of a forwarded answer's body (base64 in JSON within NATS's 1 MiB)
	// statusMoved answers a request forwarded to a node that is no longer the connection's
	// home: the front looks the home up again.
	statusMoved = http.StatusMisdirectedRequest
)

// fwdRequest is a forwarded HTTP request.
type fwdRequest struct {
	Method string      `json:"method"`
	URI    string      `json:"uri"`
	Host   string      `json:"host"`
	Remote string      `json:"remote"`
	Header http.Header `json:"header"`
	Body   []byte      `json:"body,omitempty"`
	TLS    bool        `json:"tls,omitempty"`
	Pipe   string      `json:"pipe,omitempty"` // a WebSocket upgrade's pipe
	From   string      `json:"from"`           // the node that forwarded it
}

// fwdReply is its answer; 101 for an upgraded WebSocket.
type fwdReply struct {
	Status int         `json:"status"`
	Header http.Header `json:"header,omitempty"`
	Body   []byte      `json:"body,omitempty"`
}

// fwdOutcome is how forwarding a request went.
type fwdOutcome int

const (
	fwdDone   fwdOutcome = iota // answered (or the client is gone)
	fwdNoNode                   // the node is not there: it failed
	fwdMoved                    // the node is not the home any more
)

// forward sends r (its body read into body) to node and answers w with the node's answer, or
// runs the client's WebSocket over a pipe to it.
func (c *cluster) forward(w http.ResponseWriter, r *http.Request, node string, body []byte) fwdOutcome {
	if body == nil && r.Body != nil {
		var err error
		if body, err = io.ReadAll(io.LimitReader(r.Body, maxBody+1)); err != nil {
			writeError(w, http.StatusBadRequest, "request body unreadable")
			return fwdDone
		}
	}
	req := fwdRequest{Method: r.Method, URI: r.RequestURI, Host: r.Host, Remote: r.RemoteAddr, Header: r.Header, Body: body,
		TLS: r.TLS != nil, From: c.self.Node}
	var pipe *frontPipe
	if websocket.IsWebSocketUpgrade(r) {
		req.Pipe = newPipeID()
		var err error
		if pipe, err = openFrontPipe(c.nc, req.Pipe, r.URL.Path == "/ws/agent"); err != nil {
			c.s.internalError(w, "open a pipe", err)
			return fwdDone
		}
		defer c.addPipe(node, pipe)()
	}
	c.forwarded.Add(1)
	payload, _ := json.Marshal(req) // plain data: cannot fail
	ctx, cancel := context.WithTimeout(r.Context(), fwdTimeout)
	msg, err := c.nc.RequestWithContext(ctx, nodeSubject(node, "http"), payload)
	cancel()
	var reply fwdReply
	if err == nil {
		err = json.Unmarshal(msg.Data, &reply)
	}
	if err != nil || reply.Status != http.StatusSwitchingProtocols {
		if pipe != nil {
			pipe.close()
		}
	}
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return fwdNoNode
	case err != nil:
		c.s.log.Warn().Err(err).Str("node", node).Msg("forward a request")
		writeError(w, http.StatusBadGateway, "the server node holding this session did not answer; try again")
		return fwdDone
	case reply.Status == statusMoved:
		return fwdMoved
	case reply.Status == http.StatusSwitchingProtocols && pipe != nil:
		conn, err := c.s.upgrader.Upgrade(w, r, nil)
		if err != nil {
			pipe.close()
			return fwdDone
		}
		c.s.runPipe(conn, pipe)
		return fwdDone
	}
	for k, v := range reply.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(reply.Status)
	_, _ = w.Write(reply.Body)
	return fwdDone
}

// runPipe serves the client's socket conn through pipe, tracked so that Close ends it.
func (s *Server) runPipe(conn *websocket.Conn, pipe *frontPipe) {
	ws := newWSConn(conn, s.log.With().Str("side", "front").Logger(), sendQueueLen)
	if !s.track(ws) {
		_ = conn.Close()
		pipe.close()
		return
	}
	defer s.untrack(ws)
	pipe.run(ws)
}

// serveForwarded serves a request another node forwarded here.
func (c *cluster) serveForwarded(m *nats.Msg) {
	var req fwdRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		c.s.log.Warn().Err(err).Msg("a forwarded request that does not decode")
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, req.Method, req.URI, bytes.NewReader(req.Body))
	if err != nil {
		data, _ := json.Marshal(fwdReply{Status: http.StatusBadRequest})
		_ = m.Respond(data)
		return
	}
	r.RequestURI, r.Host, r.RemoteAddr, r.Header = req.URI, req.Host, req.Remote, req.Header
	if r.Header == nil {
		r.Header = http.Header{}
	}
	if req.TLS {
		r.TLS = &tls.ConnectionState{}
	}
	fw := &forwardWriter{c: c, msg: m, pipe: req.Pipe, from: req.From, header: http.Header{}, ctx: ctx}
	c.s.mux.ServeHTTP(fw, r)
	if !fw.upgraded {
		fw.reply()
	}
}

// forwardWriter collects the answer to a forwarded request.
type forwardWriter struct {
	c        *cluster
	msg      *nats.Msg
	pipe     string
	from     string          // the front's node
	ctx      context.Context // the request's: done once it is served
	header   http.Header
	status   int
	body     bytes.Buffer
	tooLarge bool
	upgraded bool
}

func (fw *forwardWriter) Header() http.Header { return fw.header }

func (fw *forwardWriter) WriteHeader(status int) {
	if fw.status == 0 {
		fw.status = status
	}
}

func (fw *forwardWriter) Write(b []byte) (int, error) {
	fw.WriteHeader(http.StatusOK)
	if fw.tooLarge || fw.body.Len()+len(b) > fwdMaxReply {
		fw.tooLarge = true
		return 0, errors.New("forwarded answer too large")
	}
	return fw.body.Write(b)
}

// reply sends the answer to the front; one too large for NATS becomes a 502.
func (fw *forwardWriter) reply() {
	r := fwdReply{Status: max(fw.status, http.StatusOK), Header: fw.header, Body: fw.body.Bytes()}
	if fw.tooLarge {
		fw.c.s.log.Error().Msg("a forwarded request's answer is too large to send back")
		r = fwdReply{Status: http.StatusBadGateway, Header: http.Header{"Content-Type": {"application/json"}},
			Body: []byte(`{"error":"the answer is too large to pass between server nodes"}`)}
	}
	data, _ := json.Marshal(r)
	_ = fw.msg.Respond(data)
}

// upgrade answers the front with 101 and returns the home's end of the pipe.
func (fw *forwardWriter) upgrade() (frameConn, error) {
	conn, err := openNATSConn(fw.c.nc, fw.pipe)
	if err != nil {
		return nil, err
	}
	fw.upgraded = true
	context.AfterFunc(fw.ctx, fw.c.addPipe(fw.from, conn))
	data, _ := json.Marshal(fwdReply{Status: http.StatusSwitchingProtocols})
	if err := fw.msg.Respond(data); err != nil {
		conn.end()
		return nil, err
	}
	return conn, nil
}

// upgrade upgrades the request's WebSocket: here, or over the pipe of a forwarded one.
func (s *Server) upgrade(w http.ResponseWriter, r *http.Request) (frameConn, error) {
	if fw, ok := w.(*forwardWriter); ok && fw.pipe != "" {
		if !websocket.IsWebSocketUpgrade(r) {
			writeError(w, http.StatusBadRequest, "not a WebSocket upgrade")
			return nil, errors.New("not a WebSocket upgrade")
		}
		return fw.upgrade()
	}
	return s.upgrader.Upgrade(w, r, nil)
}
