package account_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/usher"
)

func TestNormalizeEmail(t *testing.T) {
	// addr254 is a 254-byte address: 64-byte local part, 189-byte domain.
	label := strings.Repeat("d", 61)
	domain189 := label + "." + label + "." + label + ".com" // 61*3 + 2 + 4
	local64 := strings.Repeat("l", 64)
	addr254 := local64 + "@" + domain189
	if len(addr254) != 254 {
		t.Fatalf("test address is %d bytes; want 254", len(addr254))
	}

	tests := []struct {
		name      string
		raw       string
		wantEmail string
		wantKey   string
	}{
		{name: "plain", raw: "a@x.com", wantEmail: "a@x.com", wantKey: "a@x.com"},
		{name: "trimmed", raw: "  a@x.com\t\n", wantEmail: "a@x.com", wantKey: "a@x.com"},
		{name: "stored as given", raw: "Ann.Smith+Tag@Example.COM", wantEmail: "Ann.Smith+Tag@Example.COM", wantKey: "ann.smith+tag@example.com"},
		{name: "key lower-cases ascii", raw: "ABC@X.COM", wantEmail: "ABC@X.COM", wantKey: "abc@x.com"},
		{name: "kelvin sign stored as given", raw: "quac\u212a@x.com", wantEmail: "quac\u212a@x.com"}, // key: TestNormalizeEmailKeys
		{name: "non-ascii lower-cased", raw: "ÉLAN@x.com", wantEmail: "ÉLAN@x.com", wantKey: "élan@x.com"},
		{name: "idna domain", raw: "a@BÜCHER.de", wantEmail: "a@BÜCHER.de", wantKey: "a@xn--bcher-kva.de"},
		{name: "idna domain lower", raw: "a@bücher.de", wantEmail: "a@bücher.de", wantKey: "a@xn--bcher-kva.de"},
		{name: "punycode domain", raw: "a@XN--BCHER-KVA.de", wantEmail: "a@XN--BCHER-KVA.de", wantKey: "a@xn--bcher-kva.de"},
		{name: "254 bytes", raw: addr254, wantEmail: addr254, wantKey: addr254},
		{name: "local part 64", raw: local64 + "@x.com", wantEmail: local64 + "@x.com", wantKey: local64 + "@x.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			email, key, err := account.NormalizeEmail(tt.raw)
			if err != nil {
				t.Fatalf("NormalizeEmail(%q) error %v; want nil", tt.raw, err)
			}
			if email != tt.wantEmail {
				t.Errorf("NormalizeEmail(%q) email = %q; want %q", tt.raw, email, tt.wantEmail)
			}
			if tt.wantKey != "" && key != tt.wantKey {
				t.Errorf("NormalizeEmail(%q) key = %q; want %q", tt.raw, key, tt.wantKey)
			}
		})
	}
}

func TestNormalizeEmailKeys(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		{name: "case of ascii", a: "A@X.com", b: "a@x.com", same: true},
		{name: "case of domain", a: "a@EXAMPLE.COM", b: "a@example.com", same: true},
		{name: "case of non-ascii", a: "ÉLAN@x.com", b: "élan@x.com", same: true},
		{name: "trimming", a: " a@x.com ", b: "a@x.com", same: true},
		{name: "nfc and nfd of é", a: "caf\u00e9@x.com", b: "cafe\u0301@x.com", same: true},
		{name: "nfd É and nfc é", a: "cafE\u0301@x.com", b: "caf\u00e9@x.com", same: true},
		// U+0130 is NFC of "I" + U+0307; an address and its NFD are one account.
		{name: "nfc and nfd of İ", a: "\u0130@x.com", b: "I\u0307@x.com", same: true},
		{name: "idna and punycode", a: "a@BÜCHER.de", b: "a@xn--bcher-kva.de", same: true},
		{name: "kelvin sign is not k", a: "quac\u212a@x.com", b: "quack@x.com", same: false},
		{name: "kelvin sign is not K", a: "quac\u212a@x.com", b: "quacK@x.com", same: false},
		{name: "dotted capital I is not i", a: "\u0130@x.com", b: "i@x.com", same: false},
		{name: "dotted capital I is not I", a: "\u0130@x.com", b: "I@x.com", same: false},
		{name: "long s is not s", a: "\u017f@x.com", b: "s@x.com", same: false},
		{name: "different local parts", a: "a@x.com", b: "b@x.com", same: false},
		{name: "different domains", a: "a@x.com", b: "a@y.com", same: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ka, err := account.NormalizeEmail(tt.a)
			if err != nil {
				t.Fatalf("NormalizeEmail(%q) error %v", tt.a, err)
			}
			_, kb, err := account.NormalizeEmail(tt.b)
			if err != nil {
				t.Fatalf("NormalizeEmail(%q) error %v", tt.b, err)
			}
			if got, want := ka == kb, tt.same; got != want {
				t.Errorf("keys %q (of %q) and %q (of %q): same = %v; want %v", ka, tt.a, kb, tt.b, got, want)
			}
		})
	}
}

func TestNormalizeEmailKeyFolding(t *testing.T) {
	// Non-ASCII letters never fold into ASCII ones.
	tests := []struct {
		name, raw string
		notInKey  string
	}{
		{name: "kelvin sign", raw: "quac\u212a@x.com", notInKey: "quack"},
		{name: "dotted capital I", raw: "\u0130x@x.com", notInKey: "ix@"},
		{name: "long s", raw: "\u017fx@x.com", notInKey: "sx@"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, key, err := account.NormalizeEmail(tt.raw)
			if err != nil {
				t.Fatalf("NormalizeEmail(%q) error %v", tt.raw, err)
			}
			if strings.Contains(key, tt.notInKey) {
				t.Errorf("NormalizeEmail(%q) key = %q; want no %q in it", tt.raw, key, tt.notInKey)
			}
		})
	}
}

func TestNormalizeEmailRejects(t *testing.T) {
	tests := []struct {
		name string
		raw  string
	}{
		{name: "empty", raw: ""},
		{name: "blank", raw: " \t "},
		{name: "no at", raw: "ax.com"},
		{name: "no local part", raw: "@x.com"},
		{name: "no domain", raw: "a@"},
		{name: "display name", raw: "Ann <a@x.com>"},
		{name: "quoted display name", raw: `"Ann" <a@x.com>`},
		{name: "angle brackets", raw: "<a@x.com>"},
		{name: "comment", raw: "a(comment)@x.com"},
		{name: "CR in local", raw: "a\r@x.com"},
		{name: "LF in local", raw: "a\n@x.com"},
		{name: "CRLF in middle", raw: "a@x.com\r\nBcc: b@y.com"},
		{name: "LF in domain", raw: "a@x\n.com"},
		{name: "CR inside", raw: "a\rb@x.com"},
		{name: "NUL", raw: "a\x00b@x.com"},
		{name: "DEL", raw: "a\x7fb@x.com"},
		{name: "255 bytes", raw: strings.Repeat("l", 64) + "@" + strings.Repeat("d", 61) + "." + strings.Repeat("d", 61) + "." + strings.Repeat("d", 61) + ".coma"},
		{name: "very long", raw: strings.Repeat("a", 1000) + "@x.com"},
		{name: "local part 65", raw: strings.Repeat("l", 65) + "@x.com"},
		{name: "two addresses", raw: "a@x.com, b@x.com"},
		{name: "two addresses no space", raw: "a@x.com,b@x.com"},
		{name: "two at signs", raw: "a@b@x.com"},
		{name: "quoted local part rewritten", raw: `"ab"@x.com`},
		{name: "quoted local part with space", raw: `"a b"@x.com`},
		{name: "invalid utf-8", raw: "a\xff@x.com"},
		{name: "invalid utf-8 domain", raw: "a@x\xff.com"},
		{name: "double dot", raw: "a..b@x.com"},
		{name: "bad idna domain", raw: "a@-x.com"},
		{name: "underscore domain", raw: "a@x_y.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "255 bytes" && len(tt.raw) != 255 {
				t.Fatalf("test address is %d bytes; want 255", len(tt.raw))
			}
			email, key, err := account.NormalizeEmail(tt.raw)
			if got, want := usher.ErrorCode(err), usher.InvalidEmail; got != want {
				t.Fatalf("NormalizeEmail(%q) = %q, %q, code %q; want code %q", tt.raw, email, key, got, want)
			}
			if email != "" || key != "" {
				t.Errorf("NormalizeEmail(%q) = %q, %q with an error; want empty", tt.raw, email, key)
			}
		})
	}
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, seed := range []string{
		"a@x.com", " A@X.COM ", "quac\u212a@x.com", "\u0130@x.com", "I\u0307@x.com", "cafe\u0301@x.com",
		"a@BÜCHER.de", "Ann <a@x.com>", "a\r\n@x.com", `"ab"@x.com`, `"a b"@x.com`, "a@x.com, b@x.com",
		"a@b@c", "@", "", "a@[127.0.0.1]", "a(c)@x.com", "\u017f@x.com", "a@xn--bcher-kva.de",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		email, key, err := account.NormalizeEmail(raw)
		if err != nil {
			if got, want := usher.ErrorCode(err), usher.InvalidEmail; got != want {
				t.Fatalf("NormalizeEmail(%q) code %q; want %q", raw, got, want)
			}
			return
		}
		if !utf8.ValidString(key) {
			t.Fatalf("NormalizeEmail(%q) key %q is not valid UTF-8", raw, key)
		}
		if strings.ContainsAny(key, "\r\n") || strings.ContainsAny(email, "\r\n") {
			t.Fatalf("NormalizeEmail(%q) = %q, %q: contains CR or LF", raw, email, key)
		}
		if len(email) > account.MaxEmailLen {
			t.Fatalf("NormalizeEmail(%q) email is %d bytes; want at most %d", raw, len(email), account.MaxEmailLen)
		}
		if email != strings.TrimSpace(raw) {
			t.Fatalf("NormalizeEmail(%q) email = %q; want the trimmed input", raw, email)
		}
		email2, key2, err := account.NormalizeEmail(email)
		if err != nil {
			t.Fatalf("NormalizeEmail(%q) accepted, but its stored form %q is refused: %v", raw, email, err)
		}
		if email2 != email || key2 != key {
			t.Fatalf("NormalizeEmail(%q) = %q, %q; again = %q, %q; want the same", raw, email, key, email2, key2)
		}
	})
}
