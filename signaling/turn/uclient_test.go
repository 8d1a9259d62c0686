package turn

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// needTool skips the test without the coturn utilities, unless in CI, where they must exist.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed (Debian package coturn; make deps)", name)
		}
		t.Skipf("%s not installed (Debian package coturn; make deps)", name)
	}
	return p
}

// freeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago, for
// turnutils_peer, which cannot report an ephemeral port of its own.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

var lossRE = regexp.MustCompile(`Total lost packets (\d+) \(([\d.]+)%\)`)

// TestCoturnClient has coturn's turnutils_uclient allocate on the embedded server and relay
// through it to a turnutils_peer echo on loopback (allow-listed), with a credential from
// Credentials; then expired, future-dated and wrongly signed credentials are refused.
func TestCoturnClient(t *testing.T) {
	uclient := needTool(t, "turnutils_uclient")
	peerBin := needTool(t, "turnutils_peer")
	s := startServer(t, "127.0.0.1:0", "127.0.0.1", nil, "127.0.0.1/32")
	turnPort := port(s.UDPAddr())
	peerPort := freeUDPPort(t)

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	peer := exec.CommandContext(ctx, peerBin, "-L", "127.0.0.1", "-p", strconv.Itoa(peerPort))
	if err := peer.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = peer.Process.Kill()
		_ = peer.Wait()
	})

	run := func(user, pass string) (string, error) {
		cctx, ccancel := context.WithTimeout(ctx, 20*time.Second)
		defer ccancel()
		out, err := exec.CommandContext(cctx, uclient, "-u", user, "-w", pass, "-e", "127.0.0.1", "-r", strconv.Itoa(peerPort),
			"-p", turnPort, "-n", "20", "-m", "2", "-l", "200", "-c", "-X", "127.0.0.1").CombinedOutput()
		return string(out), err
	}
	creds, err := NewCredentials(testSecret, 0, s.URLs(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ice, _ := creds.ICEServers("peer-uclient")
	out, err := run(ice[0].Username, ice[0].Credential)
	if err != nil {
		t.Fatalf("uclient with a valid credential: %v\n%s", err, out)
	}
	m := lossRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no loss figure in the output:\n%s", out)
	}
	if lost, _ := strconv.Atoi(m[1]); lost > 2 {
		t.Errorf("lost %d of 40 packets relayed on loopback", lost)
	}
	t.Logf("valid credential: %s", m[0])

	now := time.Now()
	bad := map[string][2]string{
		"expired":      restCredential(now.Add(-time.Minute), "peer-uclient", testSecret),
		"future-dated": restCredential(now.Add(DefaultMaxTTL+time.Hour), "peer-uclient", testSecret),
		"wrong secret": restCredential(now.Add(5*time.Minute), "peer-uclient", "another-secret-of-16+bytes"),
		"malformed":    {"peer-uclient", Password([]byte(testSecret), "peer-uclient")},
	}
	for name, c := range bad {
		refusedBefore := s.Refused()
		out, err := run(c[0], c[1])
		var ee *exec.ExitError
		if !errors.As(err, &ee) || !strings.Contains(out, "Cannot complete Allocation") {
			t.Errorf("%s credential: err %v, want a failed allocation; output:\n%s", name, err, out)
		}
		if name != "wrong secret" && s.Refused() == refusedBefore {
			t.Errorf("%s credential: the auth handler counted no refusal", name)
		}
	}
	if n := s.Allocations(); n > 2 {
		t.Errorf("%d allocations left after the refused clients", n)
	}
}

// restCredential returns a REST username and password expiring at exp, signed with secret.
func restCredential(exp time.Time, identity, secret string) [2]string {
	user := strconv.FormatInt(exp.Unix(), 10) + ":" + identity
	return [2]string{user, Password([]byte(secret), user)}
}
