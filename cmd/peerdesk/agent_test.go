package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"peerdesk/relay"
	"peerdesk/relay/demo"
	"peerdesk/store"
)

// TestReplacedAgentStops is a regression test: the server closes an agent that a second agent
// with the same token replaced, and the first used to reconnect at once and replace the second,
// the two taking turns for ever. The replaced agent must stop with relay.ErrReplaced.
func TestReplacedAgentStops(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	log := testLogger(t, false)
	f := serverFlags{listen: "127.0.0.1:0", data: t.TempDir()}
	st, err := store.Open(ctx, f.dbPath())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	token, err := demoToken(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := startServer(ctx, st, &f, log)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.close()

	start := func() (*relay.Agent, context.CancelFunc, <-chan error) {
		desk, err := demo.New(demo.Config{Width: 64, Height: 64, Still: true})
		if err != nil {
			t.Fatal(err)
		}
		a, err := relay.NewAgent(relay.AgentConfig{
			ServerURL: srv.url, Token: token, Source: desk, Logger: log,
			SettingEngine: loopbackEngine(), AllowLocalCandidates: true, MinBackoff: 20 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		actx, acancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- a.Run(actx) }()
		if err := a.WaitOnline(ctx); err != nil {
			t.Fatal(err)
		}
		return a, acancel, done
	}
	_, cancelFirst, firstDone := start()
	defer cancelFirst()
	second, cancelSecond, secondDone := start()
	defer func() {
		cancelSecond()
		<-secondDone
	}()

	select {
	case err := <-firstDone:
		if !errors.Is(err, relay.ErrReplaced) {
			t.Fatalf("replaced agent's Run = %v, want ErrReplaced", err)
		}
	case <-ctx.Done():
		t.Fatal("the replaced agent kept running")
	}
	if n := second.Stats().Connects; n != 1 {
		t.Errorf("the new agent connected %d times, want 1", n)
	}
}
