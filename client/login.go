package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// cookieName is the login cookie of docs/PROTOCOL.md, section 1.
const cookieName = "peerdesk_session"

// maxBody bounds every HTTP body the client reads (the protocol's JSON limit).
const maxBody = 64 * 1024

// Login posts credentials to the server's /api/login and returns the value of the session
// cookie, for Join. Refused credentials give an error wrapping ErrLogin.
func Login(ctx context.Context, serverURL, username, password string, opts ...Option) (cookie string, err error) {
	o := buildOptions(opts)
	base, err := parseServerURL(serverURL)
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}{username, password})
	if err != nil {
		return "", fmt.Errorf("client: login: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base.JoinPath("api", "login").String(), bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("client: login: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := o.httpClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("client: login: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("client: login as %q: %w", username, statusError(resp))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody)) // lets the connection be reused
	for _, c := range resp.Cookies() {
		if c.Name == cookieName && c.Value != "" {
			return c.Value, nil
		}
	}
	return "", fmt.Errorf("client: login as %q: %w: no %s cookie in the reply", username, ErrProtocol, cookieName)
}

// parseServerURL checks that s is an http or https URL with a host.
func parseServerURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%w: server URL: %v", ErrInvalidArgument, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: server URL %q is not http(s)://host", ErrInvalidArgument, s)
	}
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// statusError turns a non-2xx reply into an error wrapping ErrLogin, ErrForbidden or ErrHTTP,
// with the server's {"error": ...} message when there is one.
func statusError(resp *http.Response) error {
	var reply struct {
		Error string `json:"error"`
	}
	msg := resp.Status
	if b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody)); err == nil && json.Unmarshal(b, &reply) == nil && reply.Error != "" {
		msg = fmt.Sprintf("%s: %q", resp.Status, reply.Error)
	}
	sentinel := ErrHTTP
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		sentinel = ErrLogin
	case http.StatusForbidden:
		sentinel = ErrForbidden
	}
	return fmt.Errorf("%w: %s", sentinel, msg)
}
