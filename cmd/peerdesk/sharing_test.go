package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"peerdesk/client"
	"peerdesk/relay/demo"
	"peerdesk/relay/wire"
)

// api calls the server's JSON API with a login cookie (none if empty) and decodes the reply
// into out (if not nil); it returns the status.
func (h *harness) api(ctx context.Context, method, path, cookie string, body, out any) int {
	h.t.Helper()
	st, _ := apiCall(ctx, h.t, method, h.url+path, cookie, body, out)
	return st
}

// profileJSON is a sharing profile as the API returns it.
type profileJSON struct {
	ID           int64  `json:"id"`
	Name         string `json:"name"`
	ReadOnly     bool   `json:"readOnly"`
	LinkLifetime int    `json:"linkLifetime"`
	MaxGuests    int    `json:"maxGuests"`
}

// newProfile creates a sharing profile on the demo connection as the admin.
func (h *harness) newProfile(ctx context.Context, cookie, name string, readOnly bool) profileJSON {
	h.t.Helper()
	var p profileJSON
	path := fmt.Sprintf("/api/connections/%d/profiles", h.connID)
	if st := h.api(ctx, http.MethodPost, path, cookie, map[string]any{"name": name, "readOnly": readOnly}, &p); st != http.StatusCreated {
		h.t.Fatalf("create profile: status %d", st)
	}
	return p
}

// shareLink makes a share link for the owner's live session and returns its id and URL.
func (h *harness) shareLink(ctx context.Context, cookie string, owner *client.Session, profile int64) (int64, string) {
	h.t.Helper()
	sess := owner.Hello().Session
	if sess == nil || sess.ID == "" {
		h.t.Fatal("hello carried no live session")
	}
	var link struct {
		ID  int64  `json:"id"`
		URL string `json:"url"`
	}
	if st := h.api(ctx, http.MethodPost, "/api/sessions/"+sess.ID+"/links", cookie, map[string]any{"profile": profile}, &link); st != http.StatusCreated {
		h.t.Fatalf("create link: status %d", st)
	}
	if !strings.Contains(link.URL, "/s/") {
		h.t.Fatalf("share URL %q", link.URL)
	}
	return link.ID, link.URL
}

func (h *harness) guest(ctx context.Context, url string, opts ...client.Option) *client.Session {
	h.t.Helper()
	opts = append([]client.Option{client.WithSettingEngine(*loopbackEngine()), client.WithLogger(testLogger(h.t, false))}, opts...)
	s, err := client.JoinShare(ctx, url, opts...)
	if err != nil {
		h.t.Fatalf("join share link: %v", err)
	}
	h.t.Cleanup(func() { _ = s.Close() })
	return s
}

// waitEnded waits for a session to be ended by the server and returns why.
func waitEnded(t *testing.T, s *client.Session, within time.Duration) error {
	t.Helper()
	select {
	case <-s.Done():
		return s.Err()
	case <-time.After(within):
		t.Fatalf("session still up %v later", within)
	}
	return nil
}

// TestReadOnlyLinkIsEnforcedAtRelay: a guest on a Read only link sees the desktop, and every
// kind of input it sends is dropped by the relay: the host does not change and the drop
// counter rises. A guest on a full-access link does change the host.
func TestReadOnlyLinkIsEnforcedAtRelay(t *testing.T) {
	h := newHarness(t, harnessConfig{demo: demo.Config{Still: true}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cookie := h.login(ctx)
	owner := h.join(ctx)
	if r := owner.Hello().Identity; r == nil || r.Role != "owner" {
		t.Fatalf("the first participant's identity is %+v, want the owner", r)
	}
	view := h.newProfile(ctx, cookie, "Watch only", true)
	full := h.newProfile(ctx, cookie, "Hands on", false)

	_, viewURL := h.shareLink(ctx, cookie, owner, view.ID)
	g := h.guest(ctx, viewURL)
	if hello := g.Hello(); !hello.ReadOnly || hello.Identity == nil || hello.Identity.Name != "Anonymous" || hello.Identity.Role != "guest" {
		t.Fatalf("read-only guest's hello: %+v", hello)
	}
	waitHost(ctx, t, g, h.desk)
	before := h.desk.Snapshot()
	inputs := [][]byte{
		wire.EncodePointer(60, 60, wire.ButtonLeft), wire.EncodePointer(90, 80, wire.ButtonLeft), wire.EncodePointer(90, 80, 0),
		wire.EncodeWheel(60, 60, 0, 3),
		wire.EncodeKey('a', true), wire.EncodeKey('a', false),
		wire.EncodeKey(0xff0d, true), wire.EncodeKey(0xff0d, false),
	}
	for _, b := range inputs {
		if err := g.SendRawInput(b); err != nil {
			t.Fatal(err)
		}
	}
	for h.agent.Stats().InputDroppedReadOnly < uint64(len(inputs)) {
		select {
		case <-ctx.Done():
			t.Fatalf("relay dropped %d of %d read-only inputs", h.agent.Stats().InputDroppedReadOnly, len(inputs))
		case <-time.After(5 * time.Millisecond):
		}
	}
	if st := h.agent.Stats(); st.InputApplied != 0 {
		t.Fatalf("relay applied %d inputs from a read-only guest", st.InputApplied)
	}
	if d := diffPixels(before, h.desk.Snapshot()); d != 0 {
		t.Fatalf("a read-only guest changed %d host pixels", d)
	}

	_, fullURL := h.shareLink(ctx, cookie, owner, full.ID)
	g2 := h.guest(ctx, fullURL)
	if g2.Hello().ReadOnly {
		t.Fatal("full-access guest is read-only")
	}
	if err := g2.Pointer(60, 60, wire.ButtonLeft); err != nil {
		t.Fatal(err)
	}
	waitApplied(ctx, t, h, 1)
	if diffPixels(before, h.desk.Snapshot()) == 0 {
		t.Fatal("a full-access guest's click did not change the host")
	}
	waitHost(ctx, t, g, h.desk) // the read-only guest sees the change too
}

// TestLinkInvalidation: revoking a link disconnects its guest (and only its guest) at once;
// the owner leaving ends the session for everyone after the grace period; the old link is then
// refused like an unknown one. On a SQLite file and on PostgreSQL.
func TestLinkInvalidation(t *testing.T) {
	for _, postgres := range []bool{false, true} {
		t.Run(map[bool]string{false: "sqlite", true: "postgres"}[postgres], func(t *testing.T) { linkInvalidation(t, postgres) })
	}
}

func linkInvalidation(t *testing.T, postgres bool) {
	h := newHarness(t, harnessConfig{demo: demo.Config{Still: true}, ownerGrace: 300 * time.Millisecond, postgres: postgres})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cookie := h.login(ctx)
	owner := h.join(ctx)
	p := h.newProfile(ctx, cookie, "Support", false)
	id1, url1 := h.shareLink(ctx, cookie, owner, p.ID)
	_, url2 := h.shareLink(ctx, cookie, owner, p.ID)
	g1, g2 := h.guest(ctx, url1), h.guest(ctx, url2)

	start := time.Now()
	if st := h.api(ctx, http.MethodDelete, fmt.Sprintf("/api/links/%d", id1), cookie, nil, nil); st != http.StatusNoContent {
		t.Fatalf("revoke: status %d", st)
	}
	err := waitEnded(t, g1, 5*time.Second)
	if !errors.Is(err, client.ErrEnded) || !strings.Contains(err.Error(), "This link was revoked") {
		t.Fatalf("revoked guest ended with %v", err)
	}
	t.Logf("revoked guest disconnected %v after the revoke", time.Since(start).Round(time.Millisecond))
	if _, err := client.JoinShare(ctx, url1, client.WithSettingEngine(*loopbackEngine())); !errors.Is(err, client.ErrHTTP) || !strings.Contains(err.Error(), "invalid or has expired") {
		t.Fatalf("a revoked link gave %v", err)
	}
	select {
	case <-g2.Done():
		t.Fatalf("revoking one link ended the other guest: %v", g2.Err())
	default:
	}

	// The owner leaves: after the grace period the session ends for the remaining guest.
	_ = owner.Close()
	err = waitEnded(t, g2, 10*time.Second)
	if !errors.Is(err, client.ErrEnded) || !strings.Contains(err.Error(), "The session has ended") {
		t.Fatalf("guest ended with %v", err)
	}
	if _, err := client.JoinShare(ctx, url2, client.WithSettingEngine(*loopbackEngine())); !errors.Is(err, client.ErrHTTP) || !strings.Contains(err.Error(), "invalid or has expired") {
		t.Fatalf("a link of an ended session gave %v", err)
	}
}
