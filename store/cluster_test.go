package store

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestHomes(t *testing.T) {
	f := newSharingFixture(t)
	ctx := t.Context()
	if home, err := f.s.ClaimHome(ctx, f.conn.ID, "a"); err != nil || home != "a" {
		t.Fatalf("first claim: %q, %v; want a", home, err)
	}
	if home, err := f.s.ClaimHome(ctx, f.conn.ID, "b"); err != nil || home != "a" {
		t.Fatalf("second claim: %q, %v; want a (already home)", home, err)
	}
	if _, err := f.s.ClaimHome(ctx, 12345, "a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("claim of an unknown connection: %v, want ErrNotFound", err)
	}
	if ids, err := f.s.Homes(ctx, "a"); err != nil || len(ids) != 1 || ids[0] != f.conn.ID {
		t.Errorf("homes of a: %v, %v", ids, err)
	}
	if err := f.s.ReleaseHome(ctx, f.conn.ID, "b"); err != nil {
		t.Fatal(err)
	}
	if home, _ := f.s.ClaimHome(ctx, f.conn.ID, "b"); home != "a" {
		t.Errorf("b released what it did not hold: home %q, want a", home)
	}
	if err := f.s.ReleaseHome(ctx, f.conn.ID, "a"); err != nil {
		t.Fatal(err)
	}
	if home, _ := f.s.ClaimHome(ctx, f.conn.ID, "b"); home != "b" {
		t.Errorf("claim after a released: %q, want b", home)
	}
	if err := f.s.DeleteConnection(ctx, f.conn.ID); err != nil {
		t.Fatal(err)
	}
	if ids, _ := f.s.Homes(ctx, "b"); len(ids) != 0 {
		t.Errorf("a deleted connection keeps its home: %v", ids)
	}
}

// TestNodesEndTheirOwn: a node's start ends only its previous run's sessions and
// participants; EndNode ends a failed node's, its homes too; a single server ends all.
func TestNodesEndTheirOwn(t *testing.T) {
	f := newSharingFixture(t)
	ctx := t.Context()
	a, _ := openAt(t, f.path, WithNode("a"))
	b, _ := openAt(t, f.path, WithNode("b"))
	for _, st := range []struct {
		s  *Store
		id string
	}{{a, "sess-a"}, {b, "sess-b"}, {a, "sess-a2"}} {
		if err := st.s.StartLiveSession(ctx, st.id, f.conn.ID, f.user.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.s.RecordJoin(ctx, ParticipantRecord{SessionID: st.id, Peer: "p-" + st.id, Name: "owner", Role: "owner",
			Address: "192.0.2.1", JoinedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if node, live, err := a.LiveSessionNode(ctx, "sess-b"); err != nil || node != "b" || !live {
		t.Errorf("LiveSessionNode(sess-b) = %q, %v, %v; want b, live", node, live, err)
	}
	if _, _, err := a.LiveSessionNode(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("LiveSessionNode of an unknown session: %v", err)
	}
	if n, err := a.EndAllLiveSessions(ctx, "server restarted"); err != nil || n != 2 {
		t.Errorf("node a ended %d sessions (%v), want its 2", n, err)
	}
	if n, err := a.EndOpenParticipants(ctx, time.Now()); err != nil || n != 2 {
		t.Errorf("node a ended %d participants (%v), want its 2", n, err)
	}
	if _, live, _ := a.LiveSessionNode(ctx, "sess-b"); !live {
		t.Error("node a's start ended node b's session")
	}
	if _, err := b.ClaimHome(ctx, f.conn.ID, "b"); err != nil {
		t.Fatal(err)
	}
	if ns, err := a.NodesInUse(ctx); err != nil || len(ns) != 1 || ns[0] != "b" {
		t.Errorf("NodesInUse = %v, %v; want [b]", ns, err)
	}
	if n, err := a.EndNode(ctx, "b", "server node failed"); err != nil || n != 1 {
		t.Errorf("EndNode(b) ended %d (%v), want 1", n, err)
	}
	if _, live, _ := a.LiveSessionNode(ctx, "sess-b"); live {
		t.Error("EndNode(b) left its session live")
	}
	if n := countRows(t, a, `SELECT COUNT(*) FROM participants WHERE left_at IS NULL`); n != 0 {
		t.Errorf("%d participants still open", n)
	}
	if ids, _ := a.Homes(ctx, "b"); len(ids) != 0 {
		t.Errorf("EndNode(b) left its homes: %v", ids)
	}
	if n, err := a.EndNode(ctx, "b", "server node failed"); err != nil || n != 0 {
		t.Errorf("EndNode again: %d, %v; want 0", n, err)
	}
	if _, err := a.EndNode(ctx, "", "x"); !errors.Is(err, ErrInvalid) {
		t.Errorf("EndNode of no node: %v, want ErrInvalid", err)
	}
	if err := b.StartLiveSession(ctx, "sess-b2", f.conn.ID, f.user.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := f.s.EndAllLiveSessions(ctx, "server restarted"); err != nil || n != 1 {
		t.Errorf("a single server ended %d (%v), want every live one: 1", n, err)
	}
}

// TestClaimNode: cluster nodes share the database, one process per node name, and exclude a
// single server (and it them).
func TestClaimNode(t *testing.T) {
	path := testDatabase(t)
	a, _ := openAt(t, path, WithNode("a"))
	b, _ := openAt(t, path, WithNode("b"))
	a2, _ := openAt(t, path, WithNode("a"))
	single, _ := openAt(t, path)
	if pg == nil { // one file, one host: nothing to claim (the PostgreSQL pass of make test runs the rest)
		if err := a2.ClaimServer(t.Context()); err != nil {
			t.Fatalf("SQLite claim: %v", err)
		}
		return
	}
	for _, s := range []*Store{a, b} {
		if err := s.ClaimServer(t.Context()); err != nil {
			t.Fatalf("node %s: %v", s.Node(), err)
		}
	}
	if err := a2.ClaimServer(t.Context()); !errors.Is(err, ErrClaimed) {
		t.Errorf("a second process as node a: %v, want ErrClaimed", err)
	}
	for node, want := range map[string]bool{"a": true, "b": true, "c": false} {
		for range 2 { // a probe must not take the claim
			if alive, err := single.NodeAlive(t.Context(), node); err != nil || alive != want {
				t.Errorf("NodeAlive(%s) = %v, %v; want %v", node, alive, err, want)
			}
		}
	}
	if err := single.ClaimServer(t.Context()); !errors.Is(err, ErrClaimed) {
		t.Errorf("a single server beside nodes: %v, want ErrClaimed", err)
	}
	// The connection holding b's claim breaks (the database restarted it, say): b is dead to
	// the others until it checks its claim, which claims again.
	if err := b.CheckClaim(t.Context()); err != nil {
		t.Fatalf("CheckClaim of a held claim: %v", err)
	}
	if _, err := single.db.ExecContext(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = hashtextextended('peerdesk node b', 0)`); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for alive, _ := single.NodeAlive(t.Context(), "b"); alive && time.Now().Before(deadline); alive, _ = single.NodeAlive(t.Context(), "b") {
		time.Sleep(10 * time.Millisecond) // the backend's end has no event to wait on
	}
	if err := b.CheckClaim(t.Context()); err != nil {
		t.Fatalf("CheckClaim after its connection broke: %v", err)
	}
	if alive, err := single.NodeAlive(t.Context(), "b"); err != nil || !alive {
		t.Errorf("NodeAlive(b) after it claimed again = %v, %v; want true", alive, err)
	}
	_ = a.Close()
	_ = b.Close()
	if alive, err := single.NodeAlive(t.Context(), "a"); err != nil || alive {
		t.Errorf("NodeAlive(a) once it closed = %v, %v; want false", alive, err)
	}
	if err := a2.ClaimServer(t.Context()); err != nil {
		t.Errorf("node a once its first process closed: %v", err)
	}
	_ = a2.Close()
	if err := single.ClaimServer(t.Context()); err != nil {
		t.Errorf("a single server once the nodes closed: %v", err)
	}
}

// TestRecordingsOfTheirNode: a node completes and expires only the recordings it wrote.
func TestRecordingsOfTheirNode(t *testing.T) {
	f := newSharingFixture(t)
	ctx := t.Context()
	a, _ := openAt(t, f.path, WithNode("a"))
	b, _ := openAt(t, f.path, WithNode("b"))
	for _, st := range []*Store{a, b} {
		id := "sess-" + st.Node()
		if err := st.StartLiveSession(ctx, id, f.conn.ID, f.user.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.CreateRecording(ctx, Recording{Session: id, Connection: f.conn.ID, File: id + ".pdrec", StartedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	for st, want := range map[*Store]int{a: 1, b: 1, f.s: 2} {
		recs, err := st.Recordings(ctx)
		if err != nil || len(recs) != want {
			t.Errorf("node %q lists %d recordings (%v), want %d", st.Node(), len(recs), err, want)
		}
		if st.Node() != "" && len(recs) == 1 && recs[0].Session != "sess-"+st.Node() {
			t.Errorf("node %s lists %s's recording", st.Node(), recs[0].Session)
		}
	}
}

// TestClaimHomeConcurrent: nodes claiming the same connections at once get one home each,
// the same for all, while releases race them.
func TestClaimHomeConcurrent(t *testing.T) {
	f := newSharingFixture(t)
	ctx := t.Context()
	const conns = 20
	ids := make([]ConnectionID, conns)
	for i := range ids {
		c, _, err := f.s.CreateConnection(ctx, "Concurrent "+strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = c.ID
	}
	for round := range 3 {
		homes := make([][]string, 4)
		var wg sync.WaitGroup
		for n := range homes {
			homes[n] = make([]string, conns)
			wg.Go(func() {
				for i, id := range ids {
					h, err := f.s.ClaimHome(ctx, id, "node-"+strconv.Itoa(n))
					if err != nil {
						t.Errorf("round %d: ClaimHome: %v", round, err)
					}
					homes[n][i] = h
				}
			})
		}
		wg.Wait()
		for i := range ids {
			for n := range homes {
				if homes[n][i] != homes[0][i] || homes[n][i] == "" {
					t.Fatalf("round %d, connection %d: homes %q and %q", round, i, homes[0][i], homes[n][i])
				}
			}
			if err := f.s.ReleaseHome(ctx, ids[i], homes[0][i]); err != nil {
				t.Fatal(err)
			}
		}
	}
}
