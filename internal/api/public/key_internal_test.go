package public

import (
	"strings"
	"testing"

	"github.com/usherhq/usher/internal/token"
)

func TestPlausibleKey(t *testing.T) {
	for name, tc := range map[string]struct {
		key  string
		want bool
	}{
		"a key Usher makes": {token.NewPublicKey(), true},
		"empty":             {"", false},
		"too long":          {strings.Repeat("a", 257), false},
		"invalid UTF-8":     {"pk_\xff\xfe", false},
		"NUL":               {"pk_abc\x00def", false},
		"space":             {"pk_abc def", false},
		"non-ASCII":         {"pk_ключ", false},
		"quote":             {"pk_'--", false},
	} {
		if got := plausibleKey(tc.key); got != tc.want {
			t.Errorf("%s: plausibleKey(%q) = %v, want %v", name, tc.key, got, tc.want)
		}
	}
}
