package logsafe

import "testing"

func TestEscape(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain text, é and 日本", "plain text, é and 日本"},
		{"a\x1b[2Jb", `a\x1b[2Jb`},
		{"line\nbreak\ttab", `line\x0abreak\x09tab`},
		{"del\x7f", `del\x7f`},
		{"c1\u009b31m", `c1\u{009b}31m`},
		{"evil\u202egnp.exe", `evil\u{202e}gnp.exe`},
		{"bad utf8 \xff", `bad utf8 \u{fffd}`},
	} {
		if got := Escape(c.in); got != c.want {
			t.Errorf("Escape(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestRedact(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`Started agent: isControlling? true, remoteUfrag: "abc", remotePwd: "s3cr3t"`, `Started agent: isControlling? true, remoteUfrag: "abc", remotePwd: [redacted]`},
		{"password=hunter2 next", "password=[redacted] next"},
		{`{"credential":"x1"}`, `{"credential":[redacted]}`},
		{"nothing secret here", "nothing secret here"},
	} {
		if got := Redact(c.in); got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
