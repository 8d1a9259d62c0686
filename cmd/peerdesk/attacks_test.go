package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/turn/v5"
	"github.com/pion/webrtc/v4"

	"peerdesk/client"
	"peerdesk/signaling/proto"
	"peerdesk/store"
)

// TestAttackSignalingFloods is issue 11's point 1: a read-only guest floods the server with
// offers (3000 of 30 KiB) or with candidates (20,000 small ones). It used to fill the server's
// queue towards the agent, which the server then disconnected: the whole session lost its
// host. Now each socket has its own budget: the flooder gets rate-limited and is closed with
// 1008, again and again from fresh sockets and addresses, and the agent never notices.
func TestAttackSignalingFloods(t *testing.T) {
	sc := newAttackScene(t, nil)
	offer := proto.Message{Type: proto.TypeOffer, SDP: "v=0\r\n" + strings.Repeat("a=x\r\n", 30<<10/5)}
	candidate := proto.Message{Type: proto.TypeCandidate, Candidate: &proto.Candidate{Candidate: "candidate:1 1 udp 1 192.0.2.1 9 typ host"}}
	for _, f := range []struct {
		name  string
		m     proto.Message
		count int
	}{{"offers", offer, 3000}, {"candidates", candidate, 20000}} {
		t.Run(f.name, func(t *testing.T) {
			sc.under(t, attack{bound: 64 << 20, run: func(ctx context.Context, sc *attackScene) error {
				return floodSockets(ctx, sc, func(a *attacker) error {
					for range f.count {
						if a.send(f.m) != nil {
							break // closed by the server
						}
					}
					return a.expectRateLimited()
				})
			}})
		})
	}
}

// floodSockets opens attacker sockets one after the other, each from a fresh address, and
// runs flood on each, until ctx ends; it returns the first thing an attacker saw wrong, and an
// error if not one socket was flooded.
func floodSockets(ctx context.Context, sc *attackScene, flood func(*attacker) error) error {
	n := 0
	for ; ctx.Err() == nil; n++ {
		a, err := sc.dial(ctx, address(n))
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return fmt.Errorf("socket %d: %w", n, err)
		}
		if err := flood(a); err != nil {
			return fmt.Errorf("socket %d: %w", n, err)
		}
	}
	if n == 0 {
		return fmt.Errorf("no socket flooded")
	}
	return nil
}

// TestAttackCandidatesAfterOffer is issue 11's point 2: a guest makes a real offer, then
// streams 60,000 candidates. The agent used to take them all (75 → 274 MB, 173 % CPU) and
// probe every address named. Now the agent takes 32 per offer and says so, and the server
// closes the flooder at its candidate budget.
func TestAttackCandidatesAfterOffer(t *testing.T) {
	sc := newAttackScene(t, nil)
	before := sc.h.agent.Stats()
	refused, flooding := before.CandidatesRefused, before.PeersFlooding
	sc.under(t, attack{bound: 64 << 20, run: func(ctx context.Context, sc *attackScene) error {
		return floodSockets(ctx, sc, func(a *attacker) error {
			pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(*loopbackEngine())).NewPeerConnection(webrtc.Configuration{})
			if err != nil {
				return err
			}
			defer pc.Close()
			if _, err := pc.CreateDataChannel("control", nil); err != nil {
				return err
			}
			offer, err := pc.CreateOffer(nil)
			if err == nil {
				err = pc.SetLocalDescription(offer)
			}
			if err != nil {
				return err
			}
			if err := a.send(proto.Message{Type: proto.TypeOffer, SDP: offer.SDP}); err != nil {
				return err
			}
			for i := range 60000 {
				c := fmt.Sprintf("candidate:%d 1 udp 2130706431 127.0.0.1 %d typ host", i, 20000+i%20000)
				if a.send(proto.Message{Type: proto.TypeCandidate, Candidate: &proto.Candidate{Candidate: c}}) != nil {
					break
				}
			}
			// The agent's refusal of the candidates over its cap may come after the server
			// closed the flooder: it is counted below.
			return a.expectRateLimited()
		})
	}})
	// The agent refuses the candidates over its cap, or, when they come faster than it handles
	// them (a loaded machine), drops the flooder first: either way they go nowhere.
	if st := sc.h.agent.Stats(); st.CandidatesRefused == refused && st.PeersFlooding == flooding {
		t.Error("the agent neither refused a candidate over its cap nor dropped the flooder")
	}
}

// TestAttackTURNConnections is issue 11's point 3: 600 TCP connections to the embedded TURN
// server that never send a byte used to starve the HTTP server of file descriptors, and none
// was ever closed. Now an address holds at most 16, each closed 5 s after it opened without a
// request; the server keeps serving logins meanwhile.
func TestAttackTURNConnections(t *testing.T) {
	sc := newAttackScene(t, func(c *harnessConfig) { c.turn = attackTURN })
	turnAddr := sc.h.srv.turn.TCPAddr().String()
	before := sc.h.srv.turn.Stats().Conns
	sc.under(t, attack{bound: 32 << 20, run: func(ctx context.Context, sc *attackScene) error {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for range 600 {
			c, err := net.DialTimeout("tcp", turnAddr, time.Second)
			if err != nil {
				return fmt.Errorf("dial TURN: %v", err)
			}
			conns = append(conns, c)
		}
		if _, err := client.Login(ctx, sc.h.url, testAdmin, testPassword); err != nil {
			return fmt.Errorf("a login during the attack: %v", err)
		}
		<-ctx.Done()
		// Every connection ends: refused at once for the address's cap, or timed out by the
		// server 5 s after it opened. A read returns when the server closed it.
		deadline := time.Now().Add(8 * time.Second)
		for i, c := range conns {
			_ = c.SetReadDeadline(deadline)
			if _, err := c.Read(make([]byte, 1)); errors.Is(err, os.ErrDeadlineExceeded) {
				return fmt.Errorf("connection %d still open 8 s on", i)
			}
		}
		return nil
	}})
	st := sc.h.srv.turn.Stats().Conns
	if refused, timedOut := st.RefusedAddress-before.RefusedAddress, st.TimedOut-before.TimedOut; refused < 600-16 || timedOut < 1 {
		t.Errorf("%d connections refused for the address's cap (want ≥ %d), %d timed out (want ≥ 1)", refused, 600-16, timedOut)
	}
}

// TestAttackTURNAllocations is issue 11's point 4: a link holder farms fresh identities (a
// socket each) to hold TURN allocations. Now the guests of one address share a group quota of
// 32 allocations, whatever their identities.
func TestAttackTURNAllocations(t *testing.T) {
	sc := newAttackScene(t, func(c *harnessConfig) { c.turn = attackTURN })
	turnAddr := sc.h.srv.turn.UDPAddr().String()
	before := sc.h.srv.turn.Stats().Quotas
	var granted, refused int
	sc.under(t, attack{bound: 64 << 20, run: func(ctx context.Context, sc *attackScene) error {
		var sockets []*attacker
		var closers []func()
		defer func() {
			for _, c := range slices.Backward(closers) {
				c()
			}
			for _, a := range sockets {
				a.hangUp()
			}
		}()
		allocate := func(a *attacker) error {
			ice := a.hello.ICEServers
			if len(ice) == 0 {
				return errors.New("the hello names no TURN server")
			}
			conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				return err
			}
			c, err := turn.NewClient(&turn.ClientConfig{TURNServerAddr: turnAddr, Username: ice[0].Username, Password: ice[0].Credential, Conn: conn, RTO: 100 * time.Millisecond})
			if err == nil {
				err = c.Listen()
			}
			if err != nil {
				_ = conn.Close()
				return err
			}
			closers = append(closers, func() { c.Close(); _ = conn.Close() })
			relay, err := c.Allocate()
			if err != nil {
				refused++
				return nil
			}
			closers = append(closers, func() { _ = relay.Close() })
			granted++
			return nil
		}
		for i := 0; ctx.Err() == nil; i++ {
			if i < 5 { // five identities of one address: 50 allocations by their own quotas
				a, err := sc.dial(ctx, address(1000))
				if err != nil {
					return err
				}
				sockets = append(sockets, a)
			}
			if err := allocate(sockets[min(i/10, len(sockets)-1)]); err != nil {
				return err
			}
			if i > 60 {
				<-ctx.Done()
			}
		}
		return nil
	}})
	st := sc.h.srv.turn.Stats().Quotas
	if granted != 32 || refused == 0 || st.RefusedGroup-before.RefusedGroup == 0 {
		t.Errorf("%d allocations granted (want the group's 32), %d refused, %d for the group's quota", granted, refused, st.RefusedGroup-before.RefusedGroup)
	}
}

// TestAttackLogins is issue 11's point 5: guesses at passwords, as fast as eight clients can
// send them, from ever new addresses and for ever new usernames, each guess an argon2id hash.
// The throttles refuse an address or a username that missed too often (429) without hashing,
// the gate holds the hashes at once to a few (503 when it cannot take more), and the session
// and a real login carry on.
func TestAttackLogins(t *testing.T) {
	sc := newAttackScene(t, nil)
	// The attack has been going on: the first guesser's username is already throttled.
	for range loginUserMissesForTest {
		if st := postLogin(context.Background(), sc.h.url, address(0), "guess0", "not the password"); st != http.StatusUnauthorized {
			t.Fatalf("a first guess got HTTP %d", st)
		}
	}
	sc.under(t, attack{bound: 128 << 20, run: func(ctx context.Context, sc *attackScene) error {
		// A request cancelled while its connection was being dialled leaves that connection
		// idle in the pool, never used: the server would wait 5 s for it when it shuts down.
		defer http.DefaultClient.CloseIdleConnections()
		var mu sync.Mutex
		statuses := map[int]int{}
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ctx.Err() == nil; i++ {
					// Half the clients keep to their address and username (throttled after a
					// few guesses), half take new ones all the time (hashed every time).
					n := w*100000 + i
					if w%2 == 0 {
						n = 0
					}
					st := postLogin(ctx, sc.h.url, address(n/3), fmt.Sprintf("guess%d", n/2), "not the password")
					mu.Lock()
					statuses[st]++
					mu.Unlock()
				}
			}()
		}
		time.Sleep(attackWindow / 2) // the flood is on
		_, err := client.Login(ctx, sc.h.url, testAdmin, testPassword)
		wg.Wait()
		if err != nil {
			return fmt.Errorf("the administrator could not log in during the flood: %v", err)
		}
		for st := range statuses {
			if st != http.StatusUnauthorized && st != http.StatusTooManyRequests && st != http.StatusServiceUnavailable && st != 0 {
				return fmt.Errorf("a guess got HTTP %d (all: %v)", st, statuses)
			}
		}
		if statuses[http.StatusUnauthorized] == 0 || statuses[http.StatusTooManyRequests] == 0 {
			return fmt.Errorf("guesses got %v: want 401s, then 429s", statuses)
		}
		return nil
	}})
}

// loginUserMissesForTest is the server's failed logins allowed per username.
const loginUserMissesForTest = 5

// postLogin posts a login as client address addr and returns the status (0 if ctx ended).
func postLogin(ctx context.Context, base, addr, user, password string) int {
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/login", bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", addr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestAttackJoins is issue 11's point 6: a guest opening and closing sockets as fast as it can
// used to write ~1500 history rows a second. Now an address opens 60 sockets, then 6 a second
// (429 beyond), and the history grows by no more.
func TestAttackJoins(t *testing.T) {
	sc := newAttackScene(t, nil)
	rows := func() int {
		hs, _, err := sc.h.st.History(context.Background(), store.HistoryQuery{})
		if err != nil || len(hs) == 0 {
			t.Fatalf("history: %v, %d sessions", err, len(hs))
		}
		return len(hs[0].Participants)
	}
	before := rows()
	var opened, throttled int
	sc.under(t, attack{bound: 64 << 20, run: func(ctx context.Context, sc *attackScene) error {
		for ctx.Err() == nil {
			a, err := sc.dial(ctx, address(2000))
			var refused errRefused
			switch {
			case errors.As(err, &refused) && int(refused) == http.StatusTooManyRequests:
				throttled++
			case err != nil && ctx.Err() == nil:
				return err
			case err == nil:
				opened++
				a.hangUp()
			}
		}
		if throttled == 0 {
			return fmt.Errorf("%d sockets opened, none refused", opened)
		}
		return nil
	}})
	limit := 60 + 6*int(2*attackWindow.Seconds()+2) // the burst, then the refill over the attack
	if grown := rows() - before; opened > limit || grown > opened {
		t.Errorf("%d sockets opened (bound %d), %d history rows written, %d refused", opened, limit, grown, throttled)
	}
}

// TestAttackExpiredLink is issue 11's point 7: a link whose lifetime ended left its guests on.
// Now they get "This link has expired" within a second of its end; the owner and the other
// guest carry on.
func TestAttackExpiredLink(t *testing.T) {
	// The store's clock runs 58 s behind: a link of the shortest lifetime (1 min) ends 2 s on,
	// by the server's clock, which ends its guests.
	sc := newAttackScene(t, func(c *harnessConfig) { c.storeClock = -58 * time.Second })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var short profileJSON
	path := fmt.Sprintf("/api/connections/%d/profiles", sc.h.connID)
	if st := sc.h.api(ctx, http.MethodPost, path, sc.cookie, map[string]any{"name": "Short", "readOnly": true, "linkLifetime": 60}, &short); st != http.StatusCreated {
		t.Fatalf("create profile: %d", st)
	}
	sc.under(t, attack{bound: 32 << 20, run: func(ctx context.Context, sc *attackScene) error {
		id, url := sc.h.shareLink(ctx, sc.cookie, sc.owner, short.ID)
		link, err := sc.h.st.ShareLink(ctx, store.LinkID(id))
		if err != nil || link.ExpiresAt.IsZero() {
			return fmt.Errorf("the link: %+v, %v", link, err)
		}
		expires := link.ExpiresAt
		guest, err := client.JoinShare(ctx, url, client.WithSettingEngine(*loopbackEngine()), client.WithoutImageDecoding())
		if err != nil {
			return err
		}
		defer guest.Close()
		select {
		case <-guest.Done():
		case <-ctx.Done():
			return errors.New("the guest of the expired link is still on")
		}
		if late := time.Since(expires); late > time.Second {
			return fmt.Errorf("the guest was ended %v after its link expired, want within 1 s", late.Round(time.Millisecond))
		}
		if err := guest.Err(); err == nil || !strings.Contains(err.Error(), "This link has expired") {
			return fmt.Errorf("the guest was ended with %v", err)
		}
		<-ctx.Done()
		return nil
	}})
}

// TestAttackProxyLockout is issue 11's point 8: behind a TLS-terminating proxy the throttles
// used to key on the proxy's address, so one client's ten bad keys locked every guest out.
// With -trusted-proxies they key on the client the proxy names: the guesser is refused, a
// guest from another address joins.
func TestAttackProxyLockout(t *testing.T) {
	sc := newAttackScene(t, nil)
	sc.under(t, attack{bound: 32 << 20, run: func(ctx context.Context, sc *attackScene) error {
		var refused errRefused
		for i := 0; ; i++ {
			_, err := sc.dialKey(ctx, address(3000), strings.Repeat("B", 43))
			if errors.As(err, &refused) && int(refused) == http.StatusTooManyRequests {
				break
			}
			if i > 20 {
				return fmt.Errorf("still no 429 after %d bad keys: %v", i, err)
			}
		}
		if _, err := sc.dial(ctx, address(3000)); !errors.As(err, &refused) || int(refused) != http.StatusTooManyRequests {
			return fmt.Errorf("the guesser's valid key: %v, want 429 (its address is throttled)", err)
		}
		a, err := sc.dial(ctx, address(3001))
		if err != nil {
			return fmt.Errorf("a guest of another address behind the same proxy: %v", err)
		}
		a.hangUp()
		<-ctx.Done()
		return nil
	}})
}
