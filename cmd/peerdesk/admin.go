package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"

	"peerdesk/store"
)

// openStore opens the database in dir for the account commands.
func openStore(ctx context.Context, dir string) (*store.Store, error) {
	f := serverFlags{data: dir}
	return store.Open(ctx, f.dbPath())
}

func cmdUserAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	data := fs.String("data", "./data", "directory of the SQLite database")
	name := fs.String("name", "", "username (required)")
	admin := fs.Bool("admin", false, "make the user an administrator")
	pwdFile := fs.String("password-file", "", "file holding the password (default: $PEERDESK_PASSWORD, else generated and printed)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *name == "" {
		return fmt.Errorf("%w: -name is required", errUsage)
	}
	pw, err := secretFrom(*pwdFile, "PEERDESK_PASSWORD")
	if err != nil {
		return err
	}
	generated := pw == ""
	if generated {
		pw = rand.Text()
	}
	st, err := openStore(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := st.CreateUser(ctx, *name, pw, *admin)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created user %s (id %d, admin %v)\n", u.Username, u.ID, u.Admin)
	if generated {
		fmt.Fprintf(stdout, "password: %s  (shown only once)\n", pw)
	}
	return nil
}

func cmdConnectionAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return withConnectionName(ctx, "connection add", args, stderr, func(st *store.Store, name string) error {
		c, token, err := st.CreateConnection(ctx, name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created connection %q (id %d)\nagent token: %s  (shown only once; give it to the relay as PEERDESK_AGENT_TOKEN)\n", c.Name, c.ID, token)
		return nil
	})
}

// cmdConnectionToken gives a connection a new agent token. A server running on the same
// database refuses the old token from the agent's next connection on (Settings or the API also
// disconnect the agent at once).
func cmdConnectionToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return withConnectionName(ctx, "connection token", args, stderr, func(st *store.Store, name string) error {
		c, err := st.ConnectionByName(ctx, name)
		if err != nil {
			return fmt.Errorf("connection %q: %w", name, err)
		}
		token, err := st.RotateAgentToken(ctx, c.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new agent token of %q: %s  (shown only once; the old one no longer works)\n", c.Name, token)
		return nil
	})
}

// withConnectionName parses the -data and -name flags of a connection command and runs do on
// the opened store.
func withConnectionName(ctx context.Context, cmd string, args []string, stderr io.Writer, do func(st *store.Store, name string) error) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	data := fs.String("data", "./data", "directory of the SQLite database")
	name := fs.String("name", "", "connection name (required)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *name == "" {
		return fmt.Errorf("%w: -name is required", errUsage)
	}
	st, err := openStore(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	return do(st, *name)
}

func cmdGrant(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("grant", flag.ContinueOnError)
	data := fs.String("data", "./data", "directory of the SQLite database")
	user := fs.String("user", "", "username (required)")
	conn := fs.String("connection", "", "connection name (required)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *user == "" || *conn == "" {
		return fmt.Errorf("%w: -user and -connection are required", errUsage)
	}
	st, err := openStore(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := st.UserByName(ctx, *user)
	if err != nil {
		return fmt.Errorf("user %q: %w", *user, err)
	}
	c, err := st.ConnectionByName(ctx, *conn)
	if err != nil {
		return fmt.Errorf("connection %q: %w", *conn, err)
	}
	if err := st.Grant(ctx, u.ID, c.ID); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s may now use %q\n", u.Username, c.Name)
	return nil
}
