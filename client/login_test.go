package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestLogin(t *testing.T) {
	checkLeaks(t)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/login", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Username, Password string }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || r.Header.Get("Content-Type") != "application/json" {
			jsonError(w, http.StatusBadRequest, "bad body")
			return
		}
		switch {
		case req.Username == "alice" && req.Password == "s3cret":
			http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "tok-alice", HttpOnly: true})
			_, _ = w.Write([]byte(`{"username":"alice","admin":false}`))
		case req.Username == "nocookie":
			_, _ = w.Write([]byte(`{"username":"nocookie","admin":false}`))
		case req.Username == "boom":
			jsonError(w, http.StatusInternalServerError, "database is down")
		default:
			jsonError(w, http.StatusUnauthorized, "invalid username or password")
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ctx := testContext(t)

	cookie, err := Login(ctx, srv.URL, "alice", "s3cret", WithHTTPClient(srv.Client()), WithLogger(testLogger(t)))
	if err != nil || cookie != "tok-alice" {
		t.Fatalf("Login = %q, %v; want tok-alice", cookie, err)
	}
	cases := []struct {
		url, user string
		want      error
	}{
		{srv.URL, "alice-wrong", ErrLogin},
		{srv.URL, "boom", ErrHTTP},
		{srv.URL, "nocookie", ErrProtocol},
		{srv.URL + "/prefix", "alice", ErrHTTP}, // 404 under an unknown path prefix
		{"ws://" + srv.Listener.Addr().String(), "alice", ErrInvalidArgument},
		{":bad", "alice", ErrInvalidArgument},
	}
	for _, c := range cases {
		_, err := Login(ctx, c.url, c.user, "x", WithHTTPClient(srv.Client()))
		if !errors.Is(err, c.want) {
			t.Errorf("Login(%s, %s): %v, want %v", c.url, c.user, err, c.want)
		}
	}
	_, err = Login(ctx, srv.URL, "alice-wrong", "x")
	if err == nil || !errors.Is(err, ErrLogin) || !strings.Contains(err.Error(), "invalid username or password") {
		t.Errorf("the server's message is not in %v", err)
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Login(canceled, srv.URL, "alice", "s3cret"); !errors.Is(err, context.Canceled) {
		t.Errorf("Login with a canceled context: %v", err)
	}
}
