package signaling

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// How requests reach the handlers: routes by method, the Origin check and the security
// headers of every response.

// handlers maps HTTP methods to the handlers of one path.
type handlers map[string]http.HandlerFunc

// route serves a path by method: 405 for a method without handler, and 403 for a request
// other than GET from a foreign origin (see originAllowed).
func (s *Server) route(hs handlers) http.Handler {
	allow := make([]string, 0, len(hs))
	for m := range hs {
		allow = append(allow, m)
	}
	slices.Sort(allow)
	allowed := strings.Join(allow, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := hs[r.Method]
		if h == nil {
			w.Header().Set("Allow", allowed)
			writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed, use "+allowed)
			return
		}
		if r.Method != http.MethodGet && !s.originAllowed(r) {
			writeError(w, http.StatusForbidden, "cross-origin request refused")
			return
		}
		h(w, r)
	})
}

// originAllowed reports whether a browser request comes from the server's own host or an
// allowed origin; requests without Origin (non-browser clients) are allowed.
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	o := strings.ToLower(u.Scheme + "://" + u.Host)
	return s.origins[o] || s.cluster.allowsOrigin(o)
}

// securityHeaders sets the headers every response carries, and HSTS on a secure server's
// responses over TLS (or through a TLS-terminating proxy in front of an https public URL).
// A page may open WebSockets to its own origin and to those nodes gives (a cluster's nodes,
// where it reconnects if its own is lost).
func securityHeaders(next http.Handler, secure bool, nodes func() []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		connect := "'self'"
		for _, o := range nodes() {
			connect += " " + o + " " + strings.Replace(strings.Replace(o, "https://", "wss://", 1), "http://", "ws://", 1)
		}
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob: data:; connect-src "+connect+"; style-src 'self'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}
