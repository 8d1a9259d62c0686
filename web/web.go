// Package web holds the browser side of peerdesk: a one-page app of plain ES modules
// (no build step) that the signaling server serves from files embedded in the binary.
package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// Static returns the page's files (index.html, style.css and the ES modules) with the
// static directory as their root, ready for http.FileServerFS. The page expects to be
// served at the site root, next to the /api and /ws endpoints of docs/PROTOCOL.md.
func Static() fs.FS {
	sub, _ := fs.Sub(static, "static") // "static" is a valid path, so Sub cannot fail
	return sub
}
