package signaling

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Guests' names: a guest joining through a share link may give a display name (the page asks
// before joining); everyone then sees "Ana (guest)" instead of "Anonymous", in presence,
// toasts, Active Sessions and History. The suffix keeps a guest from passing as a user.

// Limits of guests' names.
const (
	maxGuestName   = 32  // characters, after sanitising
	maxGuestNameIn = 256 // bytes of the raw query value
	anonymousName  = "Anonymous"
	guestSuffix    = " (guest)"
)

// guestIdentityName returns the name a guest is shown under: the sanitised name with the
// guest suffix, or anonymousName for none. It refuses a name longer than maxGuestName
// characters once sanitised, or not UTF-8.
func guestIdentityName(raw string) (string, error) {
	if len(raw) > maxGuestNameIn || !utf8.ValidString(raw) {
		return "", fmt.Errorf("name: at most %d characters of UTF-8 text", maxGuestName)
	}
	name := sanitiseName(raw)
	switch {
	case name == "":
		return anonymousName, nil
	case utf8.RuneCountInString(name) > maxGuestName:
		return "", fmt.Errorf("name: at most %d characters", maxGuestName)
	}
	return name + guestSuffix, nil
}

// sanitiseName drops control and format characters (bidi overrides, zero-width joiners) and
// unassigned ones, turns every run of white space into one space and trims the ends.
func sanitiseName(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), !unicode.IsPrint(r):
		default:
			if space {
				b.WriteByte(' ')
				space = false
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}
