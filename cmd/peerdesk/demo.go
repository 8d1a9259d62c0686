package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"peerdesk/store"
)

// demoConnection is the name of the connection the demo command serves.
const demoConnection = "Demo desktop"

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var sf serverFlags
	var rf relayFlags
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	sf.register(fs, "127.0.0.1:8080")
	sf.turn.register(fs, "127.0.0.1:0", "", "", "127.0.0.1/32")
	rf.register(fs, true)
	sf.ops.register(fs) // a demo stops at once: no drain
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if err := sf.validate(); err != nil {
		return err
	}
	src, err := rf.demoSource()
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, sf.logLevel)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, sf.dbPath())
	if err != nil {
		return err
	}
	defer st.Close()
	if err := ensureAdmin(ctx, st, &sf, stdout); err != nil {
		return err
	}
	token, err := demoToken(ctx, st)
	if err != nil {
		return err
	}
	srv, err := startServer(ctx, st, &sf, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "peerdesk demo: open %s and log in; the connection %q shows the demo desktop\n", srv.url, demoConnection)
	// The agent stops with the server too, rather than retry a server that is gone.
	agentCtx, cancel := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-srv.done:
			cancel()
		case <-agentCtx.Done():
		}
	}()
	errAgent := runAgent(agentCtx, srv.url, token, src, &rf, log)
	cancel()
	<-watched
	return errors.Join(errAgent, srv.close())
}

// demoToken makes sure the demo connection exists and returns a fresh agent token for it: only
// token hashes are stored, so the in-process agent gets a new one at every start.
func demoToken(ctx context.Context, st *store.Store) (string, error) {
	c, err := st.ConnectionByName(ctx, demoConnection)
	if errors.Is(err, store.ErrNotFound) {
		_, token, err := st.CreateConnection(ctx, demoConnection)
		return token, err
	}
	if err != nil {
		return "", err
	}
	return st.RotateAgentToken(ctx, c.ID)
}
