package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	"github.com/pion/webrtc/v4"

	"peerdesk/client"
	"peerdesk/relay/demo"
	"peerdesk/signaling/turn"
)

// coturnSecret is the static-auth-secret the coturn under test shares with peerdesk.
const coturnSecret = "coturn-test-shared-secret-0123456789"

// TestCoturnExternal: with -turn-external pointing to a real coturn (use-auth-secret) and
// -turn-secret-file holding its secret, a Go peer allowed relay candidates only receives the
// desktop through coturn and sends input; with a wrong secret it cannot connect at all.
func TestCoturnExternal(t *testing.T) {
	url, logFile := startCoturn(t, coturnSecret)

	t.Run("relay", func(t *testing.T) {
		h := newHarness(t, harnessConfig{demo: demo.Config{Still: true}, turn: externalTURN(t, url, coturnSecret)})
		if h.srv.turn != nil {
			t.Fatal("an embedded TURN server started alongside the external one")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		p := h.join(ctx, client.WithSettingEngine(relayEngine()), client.WithRelayOnly())
		waitHost(ctx, t, p, h.desk)

		pair := p.SelectedCandidatePair()
		if pair == nil || pair.Local.Typ != webrtc.ICECandidateTypeRelay {
			t.Fatalf("selected pair %v, want a local relay candidate", pair)
		}
		if got := coturnLog(logFile); !strings.Contains(got, "ALLOCATE processed, success") {
			t.Fatalf("coturn logged no successful allocation:\n%s", got)
		}

		clickChangesHost(ctx, t, h, p)
	})

	t.Run("wrong secret", func(t *testing.T) {
		h := newHarness(t, harnessConfig{demo: demo.Config{Still: true}, turn: externalTURN(t, url, "not-the-coturn-secret-0123456789")})
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		cookie := h.login(ctx)
		s, err := client.Join(ctx, h.url, h.connID, cookie, client.WithSettingEngine(relayEngine()),
			client.WithRelayOnly(), client.WithLogger(testLogger(t, false)))
		if err == nil {
			_ = s.Close()
			t.Fatal("a relay-only peer joined through coturn with a wrong secret")
		}
		if got := coturnLog(logFile); !strings.Contains(got, "Cannot find credentials of user") {
			t.Fatalf("join failed (%v), but coturn refused no credential:\n%s", err, got)
		}
	})
}

// externalTURN returns the TURN flags of -turn-external url with secret in a -turn-secret-file.
func externalTURN(t *testing.T, url, secret string) turnFlags {
	t.Helper()
	file := filepath.Join(t.TempDir(), "turn-secret")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return turnFlags{external: url, secretFile: file, ttl: turn.DefaultTTL}
}

// relayEngine is the loopback engine that does not wait 2 s for relay pairs as pion does by
// default.
func relayEngine() webrtc.SettingEngine {
	se := *loopbackEngine()
	se.SetRelayAcceptanceMinWait(50 * time.Millisecond)
	return se
}

// startCoturn runs coturn's turnserver on a free loopback UDP port with the TURN REST secret,
// its state in a temporary directory and no system configuration, waits until it answers a
// STUN binding request, and stops it when the test ends. It returns its turn: URL and the
// path of its log file. It skips without turnserver, unless in CI, where it must exist.
func startCoturn(t *testing.T, secret string) (url, logFile string) {
	t.Helper()
	bin, err := exec.LookPath("turnserver")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("turnserver not installed (Debian package coturn; make deps)")
		}
		t.Skip("turnserver not installed (Debian package coturn; make deps)")
	}
	// turnserver cannot report an ephemeral port: take one that was free a moment ago.
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	_ = c.Close()

	dir := t.TempDir()
	conf := filepath.Join(dir, "turnserver.conf")
	if err := os.WriteFile(conf, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	logFile = filepath.Join(dir, "turn.log")
	cmd := exec.Command(bin,
		"-c", conf, // an empty configuration: not /etc/turnserver.conf
		"--listening-ip=127.0.0.1", "--listening-port="+strconv.Itoa(port), "--relay-ip=127.0.0.1",
		"--use-auth-secret", "--static-auth-secret="+secret, "--realm=peerdesk",
		"--allow-loopback-peers", "--no-cli", "--no-tls", "--no-dtls", "--no-tcp", "--no-rfc5780",
		// a file, flushed per line, rather than stdout, which coturn buffers
		"--log-file="+logFile, "--simple-log", "--verbose",
		"--pidfile="+filepath.Join(dir, "turnserver.pid"), "--userdb="+filepath.Join(dir, "turndb"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("coturn log:\n%s", coturnLog(logFile))
		}
	})

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if !awaitSTUN(addr, exited, 10*time.Second) {
		select {
		case <-exited:
			t.Fatalf("turnserver on %s exited: %v", addr, waitErr)
		default:
			t.Fatalf("turnserver on %s answered no STUN binding request within 10 s", addr)
		}
	}
	return "turn:" + addr, logFile
}

// awaitSTUN sends STUN binding requests to addr until one is answered (true), exited is
// closed or the timeout passes.
func awaitSTUN(addr string, exited <-chan struct{}, timeout time.Duration) bool {
	req, err := stun.Build(stun.TransactionID, stun.BindingRequest)
	if err != nil {
		return false
	}
	conn, err := net.Dial("udp4", addr)
	if err != nil {
		return false
	}
	defer conn.Close()
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 1500)
	for time.Now().Before(deadline) {
		_ = conn.SetDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := conn.Write(req.Raw); err == nil {
			if n, err := conn.Read(buf); err == nil {
				res := &stun.Message{Raw: buf[:n]}
				if res.Decode() == nil && res.Type == stun.BindingSuccess && res.TransactionID == req.TransactionID {
					return true
				}
			}
		}
		select { // not listening yet (the read was refused at once), or no answer in time
		case <-exited:
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
	return false
}

// coturnLog returns what coturn has logged so far.
func coturnLog(file string) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return string(b)
}
