package proto

import (
	"cmp"
	"iter"
	"slices"
)

// roleRank orders roles by strength: owner > member > guest; a role it does not know ranks
// below all of them.
var roleRank = map[string]int{RoleGuest: 1, RoleMember: 2, RoleOwner: 3}

// Group is one identity present on a session: every connection under one name (all anonymous
// guests share "Anonymous"), with the strongest role among them, read-only only if all of them
// are. The signaling server's Active Sessions and the relay's presence message list them.
type Group struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	ReadOnly bool   `json:"readOnly"`
	// Connections counts the identity's connections; in a presence message's left entry, 0
	// when it is gone.
	Connections int `json:"connections"`
}

// GroupByName groups conns by the name present gives each (with its role and whether it is
// read-only), sorted by name. The recorder (RoleRecorder) is left out: participants see that a
// session is recorded from its hello, not as a participant.
func GroupByName[T any](conns iter.Seq[T], present func(T) (name, role string, readOnly bool)) []Group {
	byName := make(map[string]*Group)
	for c := range conns {
		name, role, readOnly := present(c)
		if role == RoleRecorder {
			continue
		}
		g := byName[name]
		if g == nil {
			g = &Group{Name: name, Role: role, ReadOnly: true}
			byName[name] = g
		}
		if roleRank[role] > roleRank[g.Role] {
			g.Role = role
		}
		g.ReadOnly = g.ReadOnly && readOnly
		g.Connections++
	}
	out := make([]Group, 0, len(byName))
	for _, g := range byName {
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b Group) int { return cmp.Compare(a.Name, b.Name) })
	return out
}
