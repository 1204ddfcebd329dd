package account

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"

	"github.com/usherhq/usher/internal/usher"
)

// MaxEmailLen is the longest address accepted, in bytes (RFC 5321's path limit).
const MaxEmailLen = 254

var errEmail = usher.Errorf(usher.InvalidEmail, "Email address is not valid.")

// NormalizeEmail validates raw and returns the address to store (trimmed,
// otherwise as given) and the key that uniqueness is decided on.
//
// The key lower-cases and IDNA-converts the domain, and puts the local part
// in Unicode NFC, then lower case (then NFC again). A character outside ASCII never folds into
// an ASCII one, so look-alikes such as the Kelvin sign (U+212A) or a dotted
// capital I (U+0130) can never claim the account of a plain k or i.
func NormalizeEmail(raw string) (email, key string, err error) {
	email = strings.TrimSpace(raw)
	if email == "" {
		return "", "", usher.Errorf(usher.InvalidEmail, "Email address is required.")
	}
	if len(email) > MaxEmailLen {
		return "", "", usher.Errorf(usher.InvalidEmail, "Email address must be at most %d bytes.", MaxEmailLen)
	}
	for i := 0; i < len(email); i++ {
		if c := email[i]; c < 0x20 || c == 0x7f {
			return "", "", errEmail
		}
	}
	addr, perr := mail.ParseAddress(email)
	if perr != nil || addr.Name != "" || addr.Address != email {
		return "", "", errEmail
	}
	at := strings.LastIndexByte(email, '@')
	local, domain := email[:at], email[at+1:]
	if local == "" || len(local) > 64 {
		return "", "", errEmail
	}
	asciiDomain, derr := idna.Lookup.ToASCII(domain)
	if derr != nil || asciiDomain == "" || !utf8.ValidString(local) {
		return "", "", errEmail
	}
	return email, foldLocal(local) + "@" + strings.ToLower(asciiDomain), nil
}

func foldLocal(local string) string {
	local = nfcKeeping(local)
	var b strings.Builder
	b.Grow(len(local))
	for _, r := range local {
		l := unicode.ToLower(r)
		if r >= utf8.RuneSelf && l < utf8.RuneSelf {
			l = r
		}
		b.WriteRune(l)
	}
	return nfcKeeping(b.String())
}

// nfcKeeping puts s in NFC, except that it keeps the three characters whose
// canonical decomposition is plain ASCII (KELVIN SIGN to K, GREEK QUESTION
// MARK to ;, GREEK VARIA to `): NFC would turn a look-alike into the very
// ASCII character it imitates.
func nfcKeeping(s string) string {
	if !strings.ContainsAny(s, "K;`") {
		return norm.NFC.String(s)
	}
	var b strings.Builder
	start := 0
	for i, r := range s {
		if r == '\u212a' || r == '\u037e' || r == '\u1fef' {
			b.WriteString(norm.NFC.String(s[start:i]))
			b.WriteRune(r)
			start = i + utf8.RuneLen(r)
		}
	}
	b.WriteString(norm.NFC.String(s[start:]))
	return b.String()
}
