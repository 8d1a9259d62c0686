package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"peerdesk/store"
)

// TestCLIAccounts: user add, connection add and grant write a real database that the server
// then accepts; secrets are printed once and never taken from flag values.
func TestCLIAccounts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	cli := func(args ...string) error {
		out.Reset()
		errOut.Reset()
		return run(ctx, args, &out, &errOut)
	}

	if err := cli("user", "add", "-data", dir, "-name", "alice"); err != nil {
		t.Fatal(err, errOut.String())
	}
	m := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no generated password printed: %q", out.String())
	}
	alicePW := m[1]

	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("bob's password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cli("user", "add", "-data", dir, "-name", "bob", "-admin", "-password-file", pwFile); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "password:") {
		t.Fatalf("a given password was echoed: %q", out.String())
	}
	if err := cli("connection", "add", "-data", dir, "-name", "Office PC"); err != nil {
		t.Fatal(err)
	}
	tm := regexp.MustCompile(`agent token: (\S+)`).FindStringSubmatch(out.String())
	if tm == nil {
		t.Fatalf("no agent token printed: %q", out.String())
	}
	if err := cli("grant", "-data", dir, "-user", "alice", "-connection", "Office PC"); err != nil {
		t.Fatal(err)
	}

	st, err := store.Open(ctx, filepath.Join(dir, "peerdesk.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	alice, err := st.Authenticate(ctx, "alice", alicePW)
	if err != nil {
		t.Fatalf("alice cannot log in with the printed password: %v", err)
	}
	if bob, err := st.Authenticate(ctx, "bob", "bob's password"); err != nil || !bob.Admin {
		t.Fatalf("bob: %+v, %v", bob, err)
	}
	c, err := st.ConnectionByAgentToken(ctx, tm[1])
	if err != nil || c.Name != "Office PC" {
		t.Fatalf("printed agent token finds %+v, %v", c, err)
	}
	if ok, err := st.CanUse(ctx, alice, c.ID); !ok || err != nil {
		t.Fatalf("alice may not use the granted connection: %v %v", ok, err)
	}

	if err := cli("connection", "token", "-data", dir, "-name", "Office PC"); err != nil {
		t.Fatal(err, errOut.String())
	}
	nt := regexp.MustCompile(`new agent token of "Office PC": (\S+)`).FindStringSubmatch(out.String())
	if nt == nil || nt[1] == tm[1] {
		t.Fatalf("no new agent token printed: %q", out.String())
	}
	if _, err := st.ConnectionByAgentToken(ctx, tm[1]); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the old token after rotation: %v, want ErrNotFound", err)
	}
	if c2, err := st.ConnectionByAgentToken(ctx, nt[1]); err != nil || c2.ID != c.ID {
		t.Fatalf("the new token finds %+v, %v", c2, err)
	}
}

// TestCLIBadInput: every bad command line gets a usage error and a clear message.
func TestCLIBadInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "no command"},
		{[]string{"dance"}, "unknown command"},
		{[]string{"user"}, "needs the subcommand add"},
		{[]string{"connection", "rotate"}, "add or token"},
		{[]string{"connection", "token", "-data", dir}, "-name is required"},
		{[]string{"user", "add", "-data", dir}, "-name is required"},
		{[]string{"serve", "-listen", "nonsense"}, "-listen"},
		{[]string{"serve", "-tls-cert", "x"}, "go together"},
		{[]string{"serve", "-public-url", "desk.example.com"}, "-public-url"},
		{[]string{"serve", "-trusted-proxies", "10.0.0.0/8,proxy.local"}, "-trusted-proxies"},
		{[]string{"serve", "-max-peers-per-user", "0"}, "-max-peers-per-user"},
		{[]string{"serve", "-log-level", "loud"}, "log level"},
		{[]string{"demo", "-demo-size", "10x10"}, "WIDTHxHEIGHT"},
		{[]string{"demo", "-demo-fps", "0"}, "-demo-fps"},
		{[]string{"demo", "-demo-busy", "101"}, "-demo-busy"},
		{[]string{"demo", "-demo-grain", "65"}, "-demo-grain"},
		{[]string{"relay", "-server", "http://127.0.0.1:1"}, "no agent token"},
		{[]string{"join", "-connection", "0"}, "-connection"},
		{[]string{"join", "-connection", "1", "-duration", "-1s"}, "-duration"},
		{[]string{"grant", "-data", dir, "-bogus"}, "flag provided but not defined"},
		{[]string{"serve", "extra"}, "unexpected argument"},
	} {
		var out, errOut bytes.Buffer
		t.Setenv("PEERDESK_AGENT_TOKEN", "")
		err := run(ctx, c.args, &out, &errOut)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err %v, want a usage error about %q", c.args, err, c.want)
		}
	}
}

// TestDatabaseFlag: -database takes PostgreSQL URLs (a local socket too), never one holding a
// password (ps shows flags), which $PEERDESK_DATABASE_URL may.
func TestDatabaseFlag(t *testing.T) {
	for url, ok := range map[string]bool{
		"postgres://peerdesk@db.example.com:5432/peerdesk?sslmode=verify-full": true,
		"postgresql://peerdesk@db/peerdesk":                                    true,
		"postgres:///peerdesk?host=/run/postgresql":                            true,
		"POSTGRES://peerdesk@db/peerdesk":                                      true,
		"postgres://peerdesk:secret@db/peerdesk":                               false,
		"postgres://peerdesk@db/peerdesk?password=secret":                      false,
		"postgres://peerdesk@db/peerdesk?sslpassword=secret":                   false,
		"mysql://peerdesk@db/peerdesk":                                         false,
		"/var/lib/peerdesk.db":                                                 false,
	} {
		f := dbFlags{database: url}
		if err := f.validate(); (err == nil) != ok {
			t.Errorf("-database %q: %v, want accepted %v", url, err, ok)
		}
	}
	t.Setenv("PEERDESK_DATABASE_URL", "postgres://peerdesk:secret@db/peerdesk")
	f := dbFlags{}
	if err := f.validate(); err != nil || f.dbPath() != "postgres://peerdesk:secret@db/peerdesk" {
		t.Errorf("$PEERDESK_DATABASE_URL with a password: %v, %q", err, f.dbPath())
	}
}
