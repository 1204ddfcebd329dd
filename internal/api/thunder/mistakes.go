package thunder

import (
	"unicode"
	"unicode/utf8"
)

// mistakes returns the other passwords Thunder's allowCommonMistakes lets
// a password header stand for, in Thunder's order: the whole password
// typed with Caps Lock on (every letter's case inverted), one extra
// character typed before it, one extra character typed after it, and its
// first letter's case inverted (a phone's automatic capital). Characters
// are Unicode code points.
func mistakes(pw string) []string {
	if pw == "" {
		return nil
	}
	first, size := utf8.DecodeRuneInString(pw)
	_, lastSize := utf8.DecodeLastRuneInString(pw)
	return []string{
		invertCase(pw),
		pw[size:],
		pw[:len(pw)-lastSize],
		invertCase(string(first)) + pw[size:],
	}
}

// invertCase turns upper-case (and title-case) letters to lower case and
// lower-case letters to upper case; other characters stay.
func invertCase(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		switch {
		case unicode.IsUpper(r) || unicode.IsTitle(r):
			r = unicode.ToLower(r)
		case unicode.IsLower(r):
			r = unicode.ToUpper(r)
		}
		out = append(out, r)
	}
	return string(out)
}
