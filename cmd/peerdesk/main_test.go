package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: servers, agents, peer
// connections and the browser driver must all stop when closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
