package webhook_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/usherhq/usher/internal/usher"
	"github.com/usherhq/usher/internal/webhook"
)

func TestNewSecretIsPrefixedBase64Of32RandomBytes(t *testing.T) {
	a, b := webhook.NewSecret(), webhook.NewSecret()
	if a == b {
		t.Fatalf("two secrets are equal: %s", a)
	}
	rest, ok := strings.CutPrefix(a, "whsec_")
	if !ok {
		t.Fatalf("secret %q lacks the whsec_ prefix", a)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(rest)
	if err != nil || len(raw) != 32 {
		t.Fatalf("secret decodes to %d bytes, %v; want 32", len(raw), err)
	}
	key, err := webhook.ParseSecret(a)
	if err != nil || string(key) != string(raw) {
		t.Fatalf("ParseSecret(NewSecret()) = %x, %v; want %x", key, err, raw)
	}
}

func TestParseSecret(t *testing.T) {
	enc := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	tests := []struct {
		name  string
		in    string
		bytes int // 0: an error is expected
	}{
		{"24 bytes, the minimum", "whsec_" + enc(24), 24},
		{"64 bytes, the maximum", "whsec_" + enc(64), 64},
		{"reference libraries' test secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 24},
		{"no prefix", enc(32), 0},
		{"another prefix", "whsk_" + enc(32), 0},
		{"too short", "whsec_" + enc(23), 0},
		{"too long", "whsec_" + enc(65), 0},
		{"unpadded", "whsec_" + base64.RawStdEncoding.EncodeToString(make([]byte, 31)), 0},
		{"URL alphabet", "whsec_" + strings.Repeat("-_", 16), 0},
		{"empty", "whsec_", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := webhook.ParseSecret(tt.in)
			if tt.bytes > 0 {
				if err != nil || len(key) != tt.bytes {
					t.Fatalf("got %d bytes, %v; want %d", len(key), err, tt.bytes)
				}
				return
			}
			if got := usher.ErrorCode(err); got != usher.Invalid {
				t.Fatalf("error code %q (%v), want %q", got, err, usher.Invalid)
			}
			if rest := strings.TrimPrefix(tt.in, "whsec_"); len(rest) > 8 && strings.Contains(err.Error(), rest) {
				t.Errorf("error %q quotes the secret", err)
			}
		})
	}
}
