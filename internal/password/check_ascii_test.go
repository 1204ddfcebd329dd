package password_test

import (
	"errors"
	"testing"

	"github.com/usherhq/usher/internal/password"
)

// TestCheckRefusesWhatIsNotPrintableASCII: every format is ASCII without
// control characters, so a NUL, a line break or UTF-8 in a hash is refused
// before it reaches a parser or a database.
func TestCheckRefusesWhatIsNotPrintableASCII(t *testing.T) {
	for _, h := range []string{
		"pbkdf2_sha256$600000$sa\x00lt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"pbkdf2:sha256:600000$sälz$0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhW\n",
	} {
		err := password.Check(h)
		if !errors.Is(err, password.ErrMalformed) {
			t.Errorf("Check(%q) = %v; want ErrMalformed", h, err)
		}
	}
}
