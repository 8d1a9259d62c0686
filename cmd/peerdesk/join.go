package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io"
	"os"
	"time"

	"peerdesk/client"
)

func cmdJoin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("join", flag.ContinueOnError)
	serverURL := fs.String("server", "http://localhost:8080", "signaling server URL")
	conn := fs.Int64("connection", 0, "connection id (required; see the connection list)")
	user := fs.String("user", "admin", "username")
	pwdFile := fs.String("password-file", "", "file holding the password (default: $PEERDESK_PASSWORD)")
	out := fs.String("out", "frame.png", "where to save the current frame as PNG when leaving")
	dur := fs.Duration("duration", 3*time.Second, "how long to stay in the session (max 24h)")
	logLevel := fs.String("log-level", "warn", "log level: trace, debug, info, warn, error")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *conn <= 0 {
		return fmt.Errorf("%w: -connection must be a positive id", errUsage)
	}
	if *dur <= 0 || *dur > 24*time.Hour {
		return fmt.Errorf("%w: -duration %v outside (0, 24h]", errUsage, *dur)
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	pw, err := secretFrom(*pwdFile, "PEERDESK_PASSWORD")
	if err != nil {
		return err
	}
	cookie, err := client.Login(ctx, *serverURL, *user, pw, client.WithLogger(log))
	if err != nil {
		return err
	}
	joinCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	s, err := client.Join(joinCtx, *serverURL, *conn, cookie, client.WithLogger(log))
	cancel()
	if err != nil {
		return err
	}
	defer s.Close()
	w, h := s.Size()
	fmt.Fprintf(stdout, "joined: desktop %dx%d\n", w, h)
	timer := time.NewTimer(*dur)
	defer timer.Stop()
loop:
	for {
		select {
		case ev := <-s.Events():
			fmt.Fprintf(stdout, "event: %s\n", ev.Encode())
		case <-timer.C:
			break loop
		case <-ctx.Done():
			break loop
		case <-s.Done(): // the server ended the session or the connection failed
			break loop
		}
	}
	fmt.Fprintf(stdout, "frames received: %d\n", s.Frames())
	return errors.Join(savePNG(*out, s), s.Err(), s.Close())
}

func savePNG(path string, s *client.Session) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, s.Image()); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
