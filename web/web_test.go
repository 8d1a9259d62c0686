package web

import (
	"io/fs"
	"regexp"
	"testing"
)

func TestStaticHoldsThePage(t *testing.T) {
	files := []string{"index.html", "invalid.html", "style.css", "app.js", "api.js", "protocol.js", "messages.js", "session.js", "sigsocket.js", "peerlink.js", "display.js", "queue.js", "input.js", "keysym.js", "menu.js", "settings.js", "share.js", "dom.js", "format.js", "presence.js", "sessions.js", "history.js", "cursor.js", "clipboard.js"}
	for _, name := range files {
		b, err := fs.ReadFile(Static(), name)
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		if len(b) == 0 {
			t.Errorf("%s is empty", name)
		}
	}
	if _, err := fs.Stat(Static(), "static"); err == nil {
		t.Error("Static is not rooted inside the static directory")
	}
}

// The server's Content-Security-Policy forbids inline scripts and styles. Both pages are
// also served under /s/<key>, so they name their files by absolute paths.
func TestPagesHaveNothingInline(t *testing.T) {
	for _, name := range []string{"index.html", "invalid.html"} {
		b, err := fs.ReadFile(Static(), name)
		if err != nil {
			t.Fatal(err)
		}
		for _, re := range []string{`<script(\s[^>]*)?>[^<]+</script>`, `<style`, `\sstyle=`, `\son[a-z]+=`, `javascript:`, `(src|href)="[a-z]+\.(js|css)"`} {
			if regexp.MustCompile(`(?i)` + re).Match(b) {
				t.Errorf("%s matches %q", name, re)
			}
		}
		if !regexp.MustCompile(`<link rel="stylesheet" href="/style.css">`).Match(b) {
			t.Errorf("%s does not load /style.css", name)
		}
		if !regexp.MustCompile(`id="link-invalid"[\s\S]*<p class="message">This link is invalid or has expired</p>`).Match(b) {
			t.Errorf("%s lacks the invalid-link message", name)
		}
	}
	b, err := fs.ReadFile(Static(), "index.html")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`<script type="module" src="/app.js"></script>`).Match(b) {
		t.Error("index.html does not load /app.js as a module")
	}
}

// Every relative import of every module names a file that exists.
func TestModuleImportsResolve(t *testing.T) {
	matches, err := fs.Glob(Static(), "*.js")
	if err != nil {
		t.Fatal(err)
	}
	imp := regexp.MustCompile(`(?m)^import[^'"]*['"]\./([^'"]+)['"]`)
	checked := 0
	for _, name := range matches {
		b, err := fs.ReadFile(Static(), name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range imp.FindAllSubmatch(b, -1) {
			if _, err := fs.Stat(Static(), string(m[1])); err != nil {
				t.Errorf("%s imports %s: %v", name, m[1], err)
			}
			checked++
		}
	}
	if checked < 8 {
		t.Errorf("found only %d imports; is the pattern still right?", checked)
	}
}
