package password

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// The kinds of HashError; test for them with errors.Is.
var (
	ErrUnknownFormat = errors.New("unknown password hash format")
	ErrRefused       = errors.New("refused password hash format")
	ErrCostTooHigh   = errors.New("password hash cost over the cap")
	ErrMalformed     = errors.New("malformed password hash")
)

// HashError says what is wrong with a stored hash. Its message names the
// format and the fault and never holds the hash, so it is safe to show to
// whoever imports users.
type HashError struct {
	Format string // e.g. "sha512-crypt"; "" when the format is not recognised
	Kind   error  // ErrUnknownFormat, ErrRefused, ErrCostTooHigh or ErrMalformed
	Detail string // what exactly is wrong
}

func (e *HashError) Error() string {
	switch e.Kind {
	case ErrUnknownFormat:
		return "unknown password hash format: " + e.Detail
	case ErrRefused:
		return e.Format + " hashes are refused: " + e.Detail
	case ErrCostTooHigh:
		return e.Format + " hash cost is over the cap: " + e.Detail
	}
	return e.Format + " hash is malformed: " + e.Detail
}

// Unwrap returns the error's kind.
func (e *HashError) Unwrap() error { return e.Kind }

func malformed(format, detail string) error {
	return &HashError{Format: format, Kind: ErrMalformed, Detail: detail}
}

func refused(format, why string) error {
	return &HashError{Format: format, Kind: ErrRefused, Detail: why}
}

// overCap reports a cost parameter over its cap. n is what the hash asks
// for, or math.MaxInt when it does not even fit an int.
func overCap(format, param string, n, limit int) error {
	got := fmt.Sprint(n)
	if n == math.MaxInt {
		got = "a number"
	}
	return &HashError{Format: format, Kind: ErrCostTooHigh, Detail: fmt.Sprintf("%s %s is over the cap of %d", param, got, limit)}
}

// stored is a parsed stored hash whose cost parameters are within caps.
type stored interface {
	// match hashes password as the stored hash was made and compares the
	// two in constant time.
	match(password string) bool
}

// format is one family of stored hashes, known by its prefixes.
type format struct {
	name     string
	prefixes []string
	parse    func(encoded string) (stored, error) // nil for a refused format
	refusal  string                               // why a refused format is refused
}

// formats are the stored hashes Usher knows. Most prefixes start with "$";
// Django's and Werkzeug's do not, LDAP's are in braces. Each prefix ends
// with its separator, so none is the start of another today; should one
// ever be, the longest that matches wins.
var formats = []format{
	{name: "argon2", prefixes: []string{"$argon2id$", "$argon2i$"}, parse: parseArgon2Stored},
	{name: "argon2d", prefixes: []string{"$argon2d$"},
		refusal: "argon2d's memory access depends on the password, which leaks through side channels; it is not meant for passwords"},
	{name: "bcrypt", prefixes: []string{"$2a$", "$2b$", "$2y$"}, parse: parseBcrypt},
	{name: "bcrypt $2x$", prefixes: []string{"$2x$"},
		refusal: "$2x$ marks hashes made by crypt_blowfish's sign-extension bug, which no bcrypt here reproduces"},
	{name: "bcrypt $2$", prefixes: []string{"$2$"},
		refusal: "the original $2$ variant predates the fixes of $2a$ and is not reproduced here"},
	{name: "scrypt", prefixes: []string{"$scrypt$"}, parse: parseScrypt},
	{name: "firebase-scrypt", prefixes: []string{firebasePrefix, "$firescrypt$"}, parse: parseFirebase},
	{name: "pbkdf2", prefixes: []string{"$pbkdf2$", "$pbkdf2-sha1$", "$pbkdf2-sha256$", "$pbkdf2-sha512$"}, parse: parsePBKDF2PHC},
	{name: "pbkdf2-sha224/sha384", prefixes: []string{"$pbkdf2-sha224$", "$pbkdf2-sha384$"},
		refusal: "Kratos, which writes these, computes them with SHA3-224/SHA3-384 despite the names, so which digest was used cannot be told"},
	{name: "django pbkdf2", prefixes: []string{"pbkdf2_sha256$", "pbkdf2_sha1$"}, parse: parseDjango},
	{name: "werkzeug pbkdf2", prefixes: []string{"pbkdf2:"}, parse: parseWerkzeug},
	{name: "sha-crypt", prefixes: []string{"$5$", "$6$", "$sha256-crypt$", "$sha512-crypt$"}, parse: parseSHACrypt},
	{name: "md5-crypt", prefixes: []string{"$1$", "$md5-crypt$"}, parse: parseMD5Crypt},
	{name: "ssha", prefixes: []string{"{SSHA}", "{SSHA256}", "{SSHA512}"}, parse: parseSSHA},
	{name: "salted sha", prefixes: []string{"$sha1$", "$sha256$", "$sha512$"}, parse: parseSaltedSHA},
	{name: "md5", prefixes: []string{"$md5$", "{MD5}", "{SMD5}"},
		refusal: "one pass of MD5: unsalted ones fall to lookup tables, and salted ones to a GPU trying billions of guesses a second"},
	{name: "sha", prefixes: []string{"{SHA}"},
		refusal: "one unsalted pass of SHA-1: equal passwords have equal hashes, and lookup tables reverse most of them"},
	{name: "hmac", prefixes: []string{"$hmac-"},
		refusal: "one keyed digest whose key is an application secret shared by every hash, so it is unsalted across users: " +
			"equal passwords have equal hashes and each fast guess tests every user at once"},
}

// identify returns the format of encoded, or nil.
func identify(encoded string) *format {
	var best *format
	n := 0
	for i := range formats {
		for _, p := range formats[i].prefixes {
			if len(p) > n && strings.HasPrefix(encoded, p) {
				best, n = &formats[i], len(p)
			}
		}
	}
	return best
}

// parse identifies and decodes encoded and checks its cost against the
// caps. It computes no hash.
func parse(encoded string) (stored, error) {
	f := identify(encoded)
	switch {
	case f == nil:
		return nil, &HashError{Kind: ErrUnknownFormat, Detail: "no supported hash starts this way"}
	case f.parse == nil:
		return nil, refused(f.name, f.refusal)
	}
	return f.parse(encoded)
}

// Check reports whether a stored hash can be imported: its format is
// recognised and accepted, it parses, and its cost parameters are within
// caps. It computes no hash, so it is cheap. It returns nil for Usher's own
// argon2id hashes, and otherwise a *HashError whose kind (ErrUnknownFormat,
// ErrRefused, ErrCostTooHigh, ErrMalformed) says what is wrong; its message
// is safe to show.
func Check(encoded string) error {
	// Every format Usher reads is ASCII without control characters;
	// anything else (a NUL, a line break, UTF-8) is refused before it
	// reaches a parser or the database, which may refuse it less politely.
	for i := 0; i < len(encoded); i++ {
		if c := encoded[i]; c < 0x20 || c > 0x7e {
			return &HashError{Format: "password", Kind: ErrMalformed, Detail: "it holds a control character or one that is not ASCII"}
		}
	}
	_, err := parse(encoded)
	return err
}

// number parses a decimal cost parameter: digits only, no sign, no leading
// zero. A number too large for an int comes back as math.MaxInt, so it
// fails the cap it is checked against.
func number(s string) (int, bool) {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (math.MaxInt-9)/10 {
			n = math.MaxInt
			continue
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
