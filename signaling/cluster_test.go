package signaling_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"peerdesk/internal/testnats"
	"peerdesk/internal/testpg"
	"peerdesk/signaling"
	"peerdesk/signaling/proto"
	"peerdesk/store"
)

// clusterNode is one node of an in-process cluster: its env, its NATS connection.
type clusterNode struct {
	*env
	nc *nats.Conn
}

// newClusterNode starts node name on PostgreSQL database db and NATS natsURL, holding its
// claim on the database as `peerdesk serve` does.
func newClusterNode(t *testing.T, db, natsURL, name string, cfg signaling.Config) *clusterNode {
	t.Helper()
	st, err := store.Open(context.Background(), db, store.WithNode(name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.ClaimServer(context.Background()); err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ts := httptest.NewUnstartedServer(nil)
	cfg.Store, cfg.Logger = st, zerolog.New(zerolog.NewTestWriter(t))
	cfg.Cluster = &signaling.ClusterConfig{NATS: nc, Node: name, URL: "http://" + ts.Listener.Addr().String()}
	srv, err := signaling.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ts.Config.Handler = srv.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	return &clusterNode{env: &env{t: t, st: st, srv: srv, ts: ts}, nc: nc}
}

// TestClusterNodes: the agent on node b, the owner on node a. The owner's hello names both
// nodes; negotiation flows through a's pipe to b and back; a lists b's session and the agent
// as online; a password reset on a throws the owner out of b's session; a node whose NATS
// connection is gone has failed: a tells the owner the session ended with it.
func TestClusterNodes(t *testing.T) {
	db, natsURL := testpg.SharedDatabase(t), testnats.Start(t)
	a := newClusterNode(t, db, natsURL, "a", signaling.Config{})
	b := newClusterNode(t, db, natsURL, "b", signaling.Config{})
	if _, err := signaling.New(signaling.Config{Store: a.st, Cluster: &signaling.ClusterConfig{NATS: a.nc, Node: "b"}}); err == nil {
		t.Error("a server named b on node a's store: no error")
	}
	a.user("root", true)
	owner := a.user("olga", false)
	conn, token := a.connection("Desk", owner)
	agent := b.agent(token, conn)
	cookie := a.login("olga")

	ws, resp, err := a.dialPeer(cookie, conn.ID, a.ts.URL)
	if err != nil {
		t.Fatalf("dial the owner through a: %v (%s)", err, status(resp))
	}
	hello := expect(t, ws, proto.TypeHello)
	if !slices.Contains(hello.Nodes, a.ts.URL) || !slices.Contains(hello.Nodes, b.ts.URL) {
		t.Errorf("the owner's hello names nodes %v, want %s and %s", hello.Nodes, a.ts.URL, b.ts.URL)
	}
	expectState(t, ws, proto.StateHostAvailable)
	join := expect(t, agent, proto.TypeJoin)
	if join.Identity == nil || join.Identity.Name != "olga" || join.Identity.Role != proto.RoleOwner {
		t.Fatalf("the agent on b got join %+v", join)
	}
	send(t, ws, proto.Message{Type: proto.TypeOffer, SDP: "v=0 offer"})
	if m := expect(t, agent, proto.TypeOffer); m.Peer != join.Peer || m.SDP != "v=0 offer" {
		t.Errorf("the agent got %+v", m)
	}
	send(t, agent, proto.Message{Type: proto.TypeAnswer, Peer: join.Peer, SDP: "v=0 answer"})
	if m := expect(t, ws, proto.TypeAnswer); m.SDP != "v=0 answer" {
		t.Errorf("the owner got %+v", m)
	}
	sendRaw(t, ws, []byte("not json"))
	expectError(t, ws, proto.CodeBadMessage)
	if m := gather(t, a.srv.Collector()); m["peerdesk_cluster_nodes"] != 2 || m["peerdesk_cluster_pipes"] != 1 || m["peerdesk_cluster_forwarded_total"] < 1 {
		t.Errorf("a's cluster metrics: nodes %v, pipes %v, forwarded %v; want 2, 1, ≥ 1", m["peerdesk_cluster_nodes"],
			m["peerdesk_cluster_pipes"], m["peerdesk_cluster_forwarded_total"])
	}

	rootCookie := a.login("root")
	_, body := a.do(http.MethodGet, "/api/sessions", rootCookie, "")
	if !strings.Contains(string(body), `"olga"`) || !strings.Contains(string(body), hello.Session.ID) {
		t.Errorf("a's Active Sessions: %s, want b's session", body)
	}
	_, body = a.do(http.MethodGet, "/api/connections", rootCookie, "")
	if !strings.Contains(string(body), `"online":true`) {
		t.Errorf("a's connection list: %s, want the agent on b online", body)
	}

	if r, body := a.do(http.MethodPost, fmt.Sprintf("/api/users/%d/password", owner.ID), rootCookie, `{"password":"another-password"}`); r.StatusCode != http.StatusOK {
		t.Fatalf("reset on a: %d %s", r.StatusCode, body)
	}
	if m := expect(t, ws, proto.TypeState); m.State != proto.StateEnded || !strings.Contains(m.Message, "password") {
		t.Errorf("the owner after a password reset on a: %+v", m)
	}
	expectClosed(t, ws)
	expect(t, agent, proto.TypeLeave)

	if err := a.st.SetPassword(context.Background(), owner.ID, "olga-password"); err != nil {
		t.Fatal(err)
	}
	ws = a.peer(a.login("olga"), conn.ID, proto.Identity{Name: "olga", Role: proto.RoleOwner}, proto.StateHostAvailable)
	c := newClusterNode(t, db, natsURL, "c", signaling.Config{})
	conn2, token2 := a.connection("Desk 2", owner)
	c.agent(token2, conn2)
	ws2 := a.peer(a.login("olga"), conn2.ID, proto.Identity{Name: "olga", Role: proto.RoleOwner}, proto.StateHostAvailable)
	sid2 := expectSession(t, a, conn2.ID)

	// b is cut off from NATS but alive (its claim on the database held): its session goes on,
	// and the owner's socket through a closes for it to reconnect.
	b.nc.Close()
	if code := expectClosed(t, ws); code != 1012 {
		t.Errorf("the owner on a when b was cut off: closed with %d, want 1012 (reconnect)", code)
	}
	if _, live, err := a.st.LiveSessionNode(context.Background(), hello.Session.ID); err != nil || !live {
		t.Errorf("b's session when b was cut off: live %v, %v; want live", live, err)
	}
	if !b.srv.Online(conn.ID) {
		t.Error("b lost its agent when cut off from NATS")
	}

	// c dies (its claim gone with its database connection, then NATS): its session ends, and
	// the owner through a is told so.
	_ = c.st.Close()
	c.nc.Close()
	if m := expect(t, ws2, proto.TypeState); m.State != proto.StateEnded || !strings.Contains(m.Message, "server node") {
		t.Errorf("the owner on a when c failed: %+v", m)
	}
	expectClosed(t, ws2)
	if _, live, err := a.st.LiveSessionNode(context.Background(), sid2); err != nil || live {
		t.Errorf("c's session after c failed: live %v, %v", live, err)
	}
}

// expectSession returns the id of connection id's live session, as node n's Active Sessions
// lists it.
func expectSession(t *testing.T, n *clusterNode, id store.ConnectionID) string {
	t.Helper()
	_, body := n.do(http.MethodGet, "/api/sessions", n.login("root"), "")
	var live []struct {
		ID         string `json:"id"`
		Connection struct {
			ID int64 `json:"id"`
		} `json:"connection"`
	}
	decodeJSON(t, body, &live)
	for _, l := range live {
		if l.Connection.ID == int64(id) {
			return l.ID
		}
	}
	t.Fatalf("no live session of connection %d in %s", id, body)
	return ""
}

// TestClusterPeerCaps: a user's cap of open peer sockets holds over the nodes: its sockets on
// sessions homed on a and on b count together, and a socket closed on one frees a slot on
// the other.
func TestClusterPeerCaps(t *testing.T) {
	db, natsURL := testpg.SharedDatabase(t), testnats.Start(t)
	cfg := signaling.Config{MaxPeersPerUser: 2}
	a := newClusterNode(t, db, natsURL, "a", cfg)
	b := newClusterNode(t, db, natsURL, "b", cfg)
	u := a.user("uma", false)
	c1, _ := a.connection("One", u)
	c2, _ := a.connection("Two", u)
	cookie := a.login("uma")
	waitOpen := func(s *signaling.Server, want int) {
		t.Helper()
		deadline := time.Now().Add(waitTimeout)
		for signaling.OpenPeers(s, u.ID) != want {
			if time.Now().After(deadline) {
				t.Fatalf("open peers seen: %d, want %d", signaling.OpenPeers(s, u.ID), want)
			}
			time.Sleep(5 * time.Millisecond) // a count from another node has no event to wait on
		}
	}
	owner := proto.Identity{Name: "uma", Role: proto.RoleOwner}
	on1 := a.peer(cookie, c1.ID, owner, proto.StateHostUnavailable) // homed on a
	b.peer(cookie, c2.ID, owner, proto.StateHostUnavailable)        // homed on b
	waitOpen(a.srv, 2)
	waitOpen(b.srv, 2)
	for _, n := range []*clusterNode{a, b} {
		_, resp, err := n.dialPeer(cookie, c2.ID, n.ts.URL)
		if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("a third socket through %s: %v (%s), want 429", n.ts.URL, err, status(resp))
		}
	}
	_ = on1.Close()
	waitOpen(b.srv, 1)
	b.peer(cookie, c1.ID, owner, proto.StateHostUnavailable) // through b to a's session
}

// TestClusterRecheck: a node cut off from NATS misses what the others publish — here a user
// deleted on node a while b serves the user's session — and once back on NATS re-checks its
// participants against the store: the user is thrown out all the same.
func TestClusterRecheck(t *testing.T) {
	db, natsURL := testpg.SharedDatabase(t), testnats.Start(t)
	proxy := testnats.NewProxy(t, natsURL)
	a := newClusterNode(t, db, natsURL, "a", signaling.Config{})
	b := newClusterNode(t, db, proxy.URL(), "b", signaling.Config{})
	a.user("root", true)
	u := a.user("uma", false)
	conn, _ := a.connection("Desk", u)
	ws := b.peer(b.login("uma"), conn.ID, proto.Identity{Name: "uma", Role: proto.RoleOwner}, proto.StateHostUnavailable)
	sid := expectSession(t, a, conn.ID)

	proxy.Cut()
	deadline := time.Now().Add(waitTimeout)
	for b.nc.IsConnected() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // NATS's client has no event to wait on here
	}
	if r, body := a.do(http.MethodDelete, fmt.Sprintf("/api/users/%d", u.ID), a.login("root"), ""); r.StatusCode != http.StatusNoContent {
		t.Fatalf("delete on a: %d %s", r.StatusCode, body)
	}
	proxy.Restore()
	if m := expect(t, ws, proto.TypeState); m.State != proto.StateEnded || !strings.Contains(m.Message, "deleted") {
		t.Errorf("the deleted user's socket on b, once b is back: %+v", m)
	}
	expectClosed(t, ws)
	if _, live, err := a.st.LiveSessionNode(context.Background(), sid); err != nil || !live {
		t.Errorf("b's session after b was cut off: live %v, %v; want live (b never failed)", live, err)
	}
}
