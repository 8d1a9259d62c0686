package signaling_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"peerdesk/internal/testpg"
	"peerdesk/signaling"
	"peerdesk/signaling/proto"
	"peerdesk/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		testpg.StopShared()
		os.Exit(code)
	}))
}

// waitTimeout bounds every wait for a message; events normally arrive in milliseconds.
const waitTimeout = 10 * time.Second

// env is a signaling server on loopback over a real SQLite store.
type env struct {
	t   *testing.T
	st  *store.Store
	srv *signaling.Server
	ts  *httptest.Server
}

// newEnv starts a server; cfg's Store and Logger are filled in, the store opened with opts.
func newEnv(t *testing.T, cfg signaling.Config, opts ...store.Option) *env {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "peerdesk.db"), opts...)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	cfg.Store = st
	cfg.Logger = zerolog.New(zerolog.NewTestWriter(t))
	srv, err := signaling.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &env{t: t, st: st, srv: srv, ts: ts}
}

// user creates a user with the password name+"-password".
func (e *env) user(name string, admin bool) store.User {
	e.t.Helper()
	u, err := e.st.CreateUser(context.Background(), name, name+"-password", admin)
	if err != nil {
		e.t.Fatalf("CreateUser %s: %v", name, err)
	}
	return u
}

// connection creates a connection and grants it to users; it returns the agent token.
func (e *env) connection(name string, users ...store.User) (store.Connection, string) {
	e.t.Helper()
	ctx := context.Background()
	c, token, err := e.st.CreateConnection(ctx, name)
	if err != nil {
		e.t.Fatalf("CreateConnection: %v", err)
	}
	for _, u := range users {
		if err := e.st.Grant(ctx, u.ID, c.ID); err != nil {
			e.t.Fatalf("Grant: %v", err)
		}
	}
	return c, token
}

// do sends a request with an optional cookie and JSON body and returns the response and body.
func (e *env) do(method, path string, cookie *http.Cookie, body string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

// login logs name in with its password and returns the session cookie.
func (e *env) login(name string) *http.Cookie {
	e.t.Helper()
	resp, body := e.do("POST", "/api/login", nil, `{"username":"`+name+`","password":"`+name+`-password"}`)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("login %s: %d %s", name, resp.StatusCode, body)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "peerdesk_session" {
			return c
		}
	}
	e.t.Fatalf("login %s: no session cookie", name)
	return nil
}

func (e *env) wsURL(path string) string {
	return "ws" + strings.TrimPrefix(e.ts.URL, "http") + path
}

// dialPeer opens /ws/peer; origin "" sends no Origin header.
func (e *env) dialPeer(cookie *http.Cookie, id store.ConnectionID, origin string) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	if cookie != nil {
		h.Set("Cookie", cookie.String())
	}
	if origin != "" {
		h.Set("Origin", origin)
	}
	c, resp, err := websocket.DefaultDialer.Dial(e.wsURL("/ws/peer?connection="+strconv.FormatInt(int64(id), 10)), h)
	if c != nil {
		e.t.Cleanup(func() { _ = c.Close() })
	}
	return c, resp, err
}

// peer opens /ws/peer for cookie and checks the hello and the host state.
func (e *env) peer(cookie *http.Cookie, id store.ConnectionID, wantIdentity proto.Identity, wantState string) *websocket.Conn {
	e.t.Helper()
	c, resp, err := e.dialPeer(cookie, id, e.ts.URL)
	if err != nil {
		e.t.Fatalf("dial peer: %v (%v)", err, status(resp))
	}
	hello := expect(e.t, c, proto.TypeHello)
	if hello.Identity == nil || *hello.Identity != wantIdentity || hello.ReadOnly {
		e.t.Fatalf("peer hello = %+v identity %+v, want identity %+v", hello, hello.Identity, wantIdentity)
	}
	expectState(e.t, c, wantState)
	return c
}

// dialAgent opens /ws/agent with token ("" sends no Authorization header).
func (e *env) dialAgent(token string) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	c, resp, err := websocket.DefaultDialer.Dial(e.wsURL("/ws/agent"), h)
	if c != nil {
		e.t.Cleanup(func() { _ = c.Close() })
	}
	return c, resp, err
}

// agent opens /ws/agent and checks the hello names conn.
func (e *env) agent(token string, conn store.Connection) *websocket.Conn {
	e.t.Helper()
	c, resp, err := e.dialAgent(token)
	if err != nil {
		e.t.Fatalf("dial agent: %v (%v)", err, status(resp))
	}
	hello := expect(e.t, c, proto.TypeHello)
	if hello.Connection == nil || *hello.Connection != (proto.Connection{ID: int64(conn.ID), Name: conn.Name}) {
		e.t.Fatalf("agent hello connection = %+v, want %d %q", hello.Connection, conn.ID, conn.Name)
	}
	return c
}

func status(resp *http.Response) string {
	if resp == nil {
		return "no response"
	}
	return resp.Status
}

// read reads one message within waitTimeout.
func read(t *testing.T, c *websocket.Conn) (proto.Message, error) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	_, b, err := c.ReadMessage()
	if err != nil {
		return proto.Message{}, err
	}
	m, err := proto.Decode(b)
	if err != nil {
		t.Fatalf("server sent an undecodable frame %q: %v", b, err)
	}
	return m, nil
}

// expect reads one message and checks its type.
func expect(t *testing.T, c *websocket.Conn, typ string) proto.Message {
	t.Helper()
	m, err := read(t, c)
	if err != nil {
		t.Fatalf("waiting for %s: %v", typ, err)
	}
	if m.Type != typ {
		t.Fatalf("got %+v, want a %s", m, typ)
	}
	return m
}

func expectState(t *testing.T, c *websocket.Conn, state string) {
	t.Helper()
	if m := expect(t, c, proto.TypeState); m.State != state {
		t.Fatalf("state = %q, want %q", m.State, state)
	}
}

func expectError(t *testing.T, c *websocket.Conn, code string) {
	t.Helper()
	if m := expect(t, c, proto.TypeError); m.Code != code || m.Message == "" {
		t.Fatalf("error = %q %q, want code %q with a message", m.Code, m.Message, code)
	}
}

// expectClosed reads until the connection ends and returns the close code (-1 if the
// connection ended without a close frame).
func expectClosed(t *testing.T, c *websocket.Conn) int {
	t.Helper()
	for {
		_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
		if _, _, err := c.ReadMessage(); err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				return ce.Code
			}
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				t.Fatalf("connection still open after %v", waitTimeout)
			}
			return -1
		}
	}
}

func send(t *testing.T, c *websocket.Conn, m proto.Message) {
	t.Helper()
	sendRaw(t, c, m.Encode())
}

func sendRaw(t *testing.T, c *websocket.Conn, b []byte) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(waitTimeout))
	if err := c.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// decodeJSON unmarshals body into v.
func decodeJSON(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(v); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
}
