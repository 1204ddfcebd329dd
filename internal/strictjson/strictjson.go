// Package strictjson checks JSON documents for what encoding/json lets pass:
// invalid UTF-8 (silently replaced), duplicate keys (last one wins), keys that
// differ only in case (matched to the same struct field), excessive nesting,
// and trailing data.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Error describes why a document was refused, in words safe to show a client.
type Error struct{ Reason string }

func (e *Error) Error() string { return e.Reason }

func fail(format string, args ...any) error { return &Error{Reason: fmt.Sprintf(format, args...)} }

// Check validates doc and returns its top-level object keys (nil when the top
// level is not an object). maxDepth bounds the nesting of arrays and objects;
// the top-level value is depth 1.
func Check(doc []byte, maxDepth int) (topKeys []string, err error) {
	if !utf8.Valid(doc) {
		return nil, fail("Request body is not valid UTF-8.")
	}
	if unpairedSurrogate(doc) {
		// encoding/json would turn it into U+FFFD, so two different
		// submitted strings could become one.
		return nil, fail("Request body has a \\u escape of an unpaired UTF-16 surrogate.")
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()

	var stack []frame
	started := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if !started || len(stack) > 0 {
				return nil, fail("Request body is not complete JSON.")
			}
			return topKeys, nil
		}
		if err != nil {
			return nil, fail("Request body is not valid JSON.")
		}
		if started && len(stack) == 0 {
			return nil, fail("Request body has data after the JSON value.")
		}
		started = true

		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
			f := &stack[n-1]
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:n-1]
				markValue(stack)
				continue
			}
			key := tok.(string) // the decoder only yields strings in key position
			folded := fold(key)
			if prev, dup := f.keys[folded]; dup {
				if prev == key {
					return nil, fail("Duplicate key %q.", key)
				}
				return nil, fail("Keys %q and %q differ only in case.", prev, key)
			}
			f.keys[folded] = key
			f.wantKey = false
			if n == 1 {
				topKeys = append(topKeys, key)
			}
			continue
		}

		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack)+1 > maxDepth {
				return nil, fail("JSON is nested more than %d levels deep.", maxDepth)
			}
			obj := tok == json.Delim('{')
			f := frame{object: obj, wantKey: obj}
			if obj {
				f.keys = map[string]string{}
			}
			stack = append(stack, f)
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			markValue(stack)
		default:
			markValue(stack)
		}
	}
}

// unpairedSurrogate reports whether doc has a \u escape of a UTF-16
// surrogate that is not part of a high-low pair. Backslashes only occur
// inside strings in JSON, so a plain scan of the escapes is enough.
func unpairedSurrogate(doc []byte) bool {
	pendingHigh := false // the previous escape was a high surrogate
	for i := 0; i < len(doc); i++ {
		if doc[i] != '\\' {
			if pendingHigh {
				return true
			}
			continue
		}
		if i+1 >= len(doc) || doc[i+1] != 'u' {
			if pendingHigh {
				return true
			}
			i++ // skip the escaped character
			continue
		}
		r, ok := hex4(doc[i+2:])
		if !ok {
			return false // not valid JSON: the decoder refuses it
		}
		i += 5
		switch {
		case 0xD800 <= r && r <= 0xDBFF:
			if pendingHigh {
				return true
			}
			pendingHigh = true
		case 0xDC00 <= r && r <= 0xDFFF:
			if !pendingHigh {
				return true
			}
			pendingHigh = false
		default:
			if pendingHigh {
				return true
			}
		}
	}
	return pendingHigh
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

type frame struct {
	object  bool
	wantKey bool
	keys    map[string]string // folded key -> key as written
}

// markValue records that the innermost object has received a value, so the
// next token is a key again.
func markValue(stack []frame) {
	if n := len(stack); n > 0 && stack[n-1].object {
		stack[n-1].wantKey = true
	}
}

// fold maps every rune to the smallest rune of its case-folding orbit, so two
// keys fold alike exactly when strings.EqualFold says they are equal (which is
// also how encoding/json matches keys to fields: "Kelvin" K and long s
// included).
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		// An ASCII letter's smallest fold is its upper case.
		return strings.ToUpper(s)
	}
	b := make([]rune, 0, len(s))
	for _, r := range s {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		b = append(b, min)
	}
	return string(b)
}

// IsError reports whether err came from Check.
func IsError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}
