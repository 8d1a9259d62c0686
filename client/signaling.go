package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"peerdesk/signaling/proto"
)

const (
	handshakeTimeout = 10 * time.Second
	// sendQueue bounds the signaling messages waiting for the writer: room for several offers
	// with a full batch of held candidates each, so that a full queue means the writer is stuck.
	sendQueue = 4 * maxPendingCandidates
	// maxCookie bounds the cookie value accepted from the caller.
	maxCookie = 4096
)

// signaling is the peer's WebSocket to the signaling server: one reader (the session's run
// loop) and a writer goroutine draining a bounded queue (proto.Conn).
type signaling struct {
	conn *proto.Conn
}

// target is what a peer joins and as whom: a connection with a login cookie, or a share key
// with an optional login cookie.
type target struct {
	query  url.Values
	cookie string // may be empty for a share key
	desc   string // for errors and logs: never the share key
}

// connectionTarget joins connection id as the user of the login cookie.
func connectionTarget(id int64, cookie string) (target, error) {
	if err := checkCookie(cookie); err != nil {
		return target{}, err
	}
	return target{query: url.Values{"connection": {strconv.FormatInt(id, 10)}}, cookie: cookie, desc: fmt.Sprintf("connection %d", id)}, nil
}

// shareTarget joins through the share URL http(s)://host/s/KEY; it returns the server's URL.
func shareTarget(shareURL, cookie string) (string, target, error) {
	u, err := url.Parse(shareURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", target{}, fmt.Errorf("%w: share URL is not http(s)://host/s/KEY", ErrInvalidArgument)
	}
	key, ok := strings.CutPrefix(u.Path, "/s/")
	if !ok || key == "" || len(key) > maxShareKey || strings.ContainsAny(key, "/?#") {
		return "", target{}, fmt.Errorf("%w: share URL is not http(s)://host/s/KEY", ErrInvalidArgument)
	}
	if cookie != "" {
		if err := checkCookie(cookie); err != nil {
			return "", target{}, err
		}
	}
	server := (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
	return server, target{query: url.Values{"share": {key}}, cookie: cookie, desc: "a share link"}, nil
}

// maxShareKey bounds the key taken from a share URL.
const maxShareKey = 128

// dialSignaling opens /ws/peer for t on serverURL, or else on the nodes of WithNodes, in turn,
// while the one tried does not answer or answers 5xx or 421 (not its home any more).
func dialSignaling(ctx context.Context, o *options, serverURL string, t target) (*signaling, error) {
	sig, err := dialOne(ctx, o, serverURL, t)
	for _, n := range o.nodes {
		if err == nil || !nodeDown(err) || ctx.Err() != nil {
			break
		}
		if n == serverURL {
			continue
		}
		o.log.Info().Err(err).Msg("trying the next node")
		sig, err = dialOne(ctx, o, n, t)
	}
	return sig, err
}

// nodeDown reports whether a dial error says the node is not there (rather than that it
// refused the join).
func nodeDown(err error) bool {
	var se *statusErr
	if errors.As(err, &se) {
		return se.code >= 500 || se.code == http.StatusMisdirectedRequest
	}
	return !errors.Is(err, ErrInvalidArgument)
}

// dialOne opens /ws/peer for t on serverURL.
func dialOne(ctx context.Context, o *options, serverURL string, t target) (*signaling, error) {
	u, err := parseServerURL(serverURL)
	if err != nil {
		return nil, err
	}
	u = u.JoinPath("ws", "peer")
	u.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
	u.RawQuery = t.query.Encode()

	d := websocket.Dialer{HandshakeTimeout: handshakeTimeout}
	if t := o.transport(); t != nil {
		d.Proxy, d.NetDialContext, d.TLSClientConfig = t.Proxy, t.DialContext, t.TLSClientConfig
	}
	header := http.Header{}
	if t.cookie != "" {
		header.Set("Cookie", cookieName+"="+t.cookie)
	}
	conn, resp, err := d.DialContext(ctx, u.String(), header)
	if err != nil {
		if errors.Is(err, websocket.ErrBadHandshake) && resp != nil {
			err = &statusErr{code: resp.StatusCode, err: statusError(resp)}
		}
		return nil, fmt.Errorf("client: join %s on %s: %w", t.desc, u.Host, err) // the URL may hold a share key
	}
	return &signaling{conn: proto.NewConn(conn, sendQueue, sampledLogger(o.log))}, nil
}

// statusErr is a refused handshake's status and error.
type statusErr struct {
	code int
	err  error
}

func (e *statusErr) Error() string { return e.err.Error() }
func (e *statusErr) Unwrap() error { return e.err }

// checkCookie refuses a value that is not a cookie-octet string (RFC 6265), so that it cannot
// smuggle other cookies or headers.
func checkCookie(v string) error {
	if v == "" || len(v) > maxCookie {
		return fmt.Errorf("%w: cookie of %d bytes", ErrInvalidArgument, len(v))
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == ',' || c == ';' || c == '\\' {
			return fmt.Errorf("%w: cookie has byte 0x%02x", ErrInvalidArgument, c)
		}
	}
	return nil
}

// read returns the next valid message. Only one goroutine reads.
func (s *signaling) read() (proto.Message, error) {
	m, err := s.conn.Read()
	if err != nil {
		return proto.Message{}, fmt.Errorf("client: signaling read: %w", err)
	}
	return m, nil
}

// send queues m for the writer without ever blocking, for it runs on pion's callback
// goroutines too. A full queue means the writer has been stuck on the WebSocket (for up to
// proto.WriteTimeout): send then fails with errSignalingStuck, and the session must end.
func (s *signaling) send(m proto.Message) error {
	if err := s.conn.Send(m); err != nil {
		return fmt.Errorf("client: signaling send of %s: %w (%w)", m.Type, errSignalingStuck, err)
	}
	return nil
}

// close says goodbye to the server and closes the WebSocket, which ends the reader.
func (s *signaling) close() { s.conn.Close() }
