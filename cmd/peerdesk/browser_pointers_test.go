package main

import (
	"testing"
)

// TestBrowserPointers: everyone sees the others' pointers. A view-only guest's pointer shows on
// the owner's page, named, where it points, while nothing of it reaches the host (no input
// applied); the owner's shows on the guest's page; the owner's switch hides them.
func TestBrowserPointers(t *testing.T) {
	h, do, link := sharedSession(t, map[string]any{"name": "Viewers", "readOnly": true})
	url, _ := link["url"].(string)
	do("ana", "openShare", map[string]any{"url": url, "context": "ana", "name": "Ana"})

	applied := h.agent.Stats().InputApplied
	do("ana", "hover", map[string]any{"x": 100, "y": 50})
	do("main", "pointers", map[string]any{"want": []map[string]any{{"name": "Ana (guest)", "x": 100, "y": 50}}})
	if n := h.agent.Stats().InputApplied; n != applied {
		t.Errorf("the viewer's pointer reached the host: %d input events applied", n-applied)
	}
	do("main", "hover", map[string]any{"x": 200, "y": 150})
	do("ana", "pointers", map[string]any{"want": []map[string]any{{"name": testAdmin, "x": 200, "y": 150}}})

	do("main", "eval", map[string]any{"js": "document.getElementById('pointers-toggle').click()"})
	if r := do("main", "eval", map[string]any{"js": "document.getElementById('pointers').hidden"}); r["value"] != true {
		t.Errorf("the switch did not hide the pointers: %v", r)
	}
}
