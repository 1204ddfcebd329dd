package strictjson_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/usherhq/usher/internal/strictjson"
)

// nest wraps inner in depth levels of open/close, e.g. nest(2, "[", "]", "1")
// is "[[1]]".
func nest(depth int, open, close, inner string) string {
	return strings.Repeat(open, depth) + inner + strings.Repeat(close, depth)
}

// nestObjects returns depth levels of {"a": ...} around inner.
func nestObjects(depth int, inner string) string {
	return nest(depth, `{"a":`, `}`, inner)
}

func TestCheck(t *testing.T) {
	const maxDepth = 5
	tests := []struct {
		name     string
		doc      string
		maxDepth int
		wantKeys []string
		wantErr  bool
	}{
		// Accepted documents.
		{name: "empty object", doc: `{}`, wantKeys: nil},
		{name: "object with whitespace", doc: " \t\r\n{ \"a\" : 1 } \n", wantKeys: []string{"a"}},
		{name: "scalar string", doc: `"x"`, wantKeys: nil},
		{name: "scalar number", doc: `-1.5e3`, wantKeys: nil},
		{name: "scalar literals in array", doc: `[true,false,null]`, wantKeys: nil},
		{name: "empty array", doc: `[]`, wantKeys: nil},
		{name: "nested arrays and objects", doc: `{"a":[1,{"b":[[],{}]},"s"],"c":{"d":{"e":null}}}`, wantKeys: []string{"a", "c"}},
		{name: "top keys in document order", doc: `{"z":1,"a":2,"m":{"inner":3},"b":[]}`, wantKeys: []string{"z", "a", "m", "b"}},
		{name: "nested keys are not top keys", doc: `{"a":{"b":{"c":1}}}`, wantKeys: []string{"a"}},
		{name: "unicode keys", doc: `{"ключ":1,"鍵":2,"\u00e9":3,"emoji😀":4}`, wantKeys: []string{"ключ", "鍵", "é", "emoji😀"}},
		{name: "surrogate pair escape", doc: `{"e":"\ud83d\ude00","k":"\\ud800"}`, wantKeys: []string{"e", "k"}},
		{name: "escaped backslash before u", doc: `["\\\\ud800"]`, wantKeys: nil},
		{name: "lone high surrogate", doc: `{"e":"a\ud800b"}`, wantErr: true},
		{name: "lone high surrogate at the end", doc: `["\uD800"]`, wantErr: true},
		{name: "lone low surrogate", doc: `{"e":"\udc00"}`, wantErr: true},
		{name: "high then other escape", doc: `["\ud800\n"]`, wantErr: true},
		{name: "two highs", doc: `["\ud800\ud800\udc00"]`, wantErr: true},
		{name: "surrogate in a key", doc: `{"\ud800":1}`, wantErr: true},
		{name: "same key in sibling objects", doc: `{"a":{"x":1},"b":{"x":2}}`, wantKeys: []string{"a", "b"}},
		{name: "same key at different levels", doc: `{"x":{"x":{"x":1}}}`, wantKeys: []string{"x"}},
		{name: "same key in array elements", doc: `[{"x":1},{"x":2}]`, wantKeys: nil},
		{name: "kelvin sign alone", doc: `{"\u212a":1}`, wantKeys: []string{"\u212a"}},

		// Invalid UTF-8.
		{name: "invalid utf-8 in string", doc: "{\"a\":\"\xff\"}", wantErr: true},
		{name: "invalid utf-8 in key", doc: "{\"\xc3\x28\":1}", wantErr: true},
		{name: "truncated utf-8 sequence", doc: "\"\xe2\x82\"", wantErr: true},
		{name: "utf-16 surrogate encoded as utf-8", doc: "\"\xed\xa0\x80\"", wantErr: true},

		// Truncated or malformed.
		{name: "empty", doc: ``, wantErr: true},
		{name: "whitespace only", doc: "  \n", wantErr: true},
		{name: "truncated object", doc: `{"a":1`, wantErr: true},
		{name: "truncated after key", doc: `{"a"`, wantErr: true},
		{name: "truncated after colon", doc: `{"a":`, wantErr: true},
		{name: "truncated array", doc: `[1,2`, wantErr: true},
		{name: "truncated string", doc: `"abc`, wantErr: true},
		{name: "truncated literal", doc: `tru`, wantErr: true},
		{name: "missing comma", doc: `[1 2]`, wantErr: true},
		{name: "missing colon", doc: `{"a" 1}`, wantErr: true},
		{name: "trailing comma", doc: `{"a":1,}`, wantErr: true},
		{name: "unquoted key", doc: `{a:1}`, wantErr: true},
		{name: "number key", doc: `{1:1}`, wantErr: true},
		{name: "leading zero", doc: `01`, wantErr: true},
		{name: "mismatched close", doc: `[}`, wantErr: true},

		// Trailing data.
		{name: "trailing garbage", doc: `{} x`, wantErr: true},
		{name: "two objects", doc: `{}{}`, wantErr: true},
		{name: "two objects spaced", doc: "{}\n{}", wantErr: true},
		{name: "two scalars", doc: `1 2`, wantErr: true},
		{name: "extra close", doc: `{}}`, wantErr: true},

		// Duplicate keys.
		{name: "duplicate top key", doc: `{"a":1,"a":2}`, wantErr: true},
		{name: "duplicate top key non-adjacent", doc: `{"a":1,"b":{},"a":2}`, wantErr: true},
		{name: "duplicate nested key", doc: `{"a":{"b":1,"b":2}}`, wantErr: true},
		{name: "duplicate key in array element", doc: `[{"b":1,"b":2}]`, wantErr: true},
		{name: "duplicate key by escape", doc: `{"a":1,"\u0061":2}`, wantErr: true},

		// Case-variant keys.
		{name: "Email and email", doc: `{"Email":"a","email":"b"}`, wantErr: true},
		{name: "email and EMAIL", doc: `{"email":"a","EMAIL":"b"}`, wantErr: true},
		{name: "case variant nested", doc: `{"x":{"Email":"a","email":"b"}}`, wantErr: true},
		{name: "kelvin sign and k", doc: `{"\u212a":1,"k":2}`, wantErr: true},
		{name: "k and kelvin sign", doc: `{"k":1,"\u212a":2}`, wantErr: true},
		{name: "kelvin sign and K", doc: `{"K":1,"\u212a":2}`, wantErr: true},
		{name: "long s and s", doc: `{"\u017f":1,"s":2}`, wantErr: true},
		{name: "S and long s", doc: `{"S":1,"\u017f":2}`, wantErr: true},
		{name: "non-ascii case variant", doc: `{"é":1,"É":2}`, wantErr: true},

		// Depth: the top-level value is depth 1.
		{name: "objects at limit", doc: nestObjects(maxDepth, "1"), maxDepth: maxDepth, wantKeys: []string{"a"}},
		{name: "objects over limit", doc: nestObjects(maxDepth+1, "1"), maxDepth: maxDepth, wantErr: true},
		{name: "arrays at limit", doc: nest(maxDepth, "[", "]", ""), maxDepth: maxDepth},
		{name: "arrays over limit", doc: nest(maxDepth+1, "[", "]", ""), maxDepth: maxDepth, wantErr: true},
		{name: "mixed at limit explicit", doc: `{"a":[{"b":[{}]}]}`, maxDepth: maxDepth, wantKeys: []string{"a"}},
		{name: "mixed over limit explicit", doc: `{"a":[{"b":[{"c":[]}]}]}`, maxDepth: maxDepth, wantErr: true},
		{name: "scalar at depth limit 1", doc: `"x"`, maxDepth: 1},
		{name: "object at depth limit 1", doc: `{"a":1}`, maxDepth: 1, wantKeys: []string{"a"}},
		{name: "nested object at depth limit 1", doc: `{"a":{}}`, maxDepth: 1, wantErr: true},
		{name: "wide is not deep", doc: `[[],[],[],[],[],[],[],[]]`, maxDepth: 2},
		{name: "depth resets after close", doc: `[[[]],[[]]]`, maxDepth: 3},
		{name: "depth 32 at limit", doc: nest(32, "[", "]", ""), maxDepth: 32},
		{name: "depth 33 over limit", doc: nest(33, "[", "]", ""), maxDepth: 32, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			depth := tt.maxDepth
			if depth == 0 {
				depth = 64
			}
			got, err := strictjson.Check([]byte(tt.doc), depth)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Check(%q) = %q, nil; want an error", tt.doc, got)
				}
				if !strictjson.IsError(err) {
					t.Errorf("Check(%q) error %T; want *strictjson.Error", tt.doc, err)
				}
				if got != nil {
					t.Errorf("Check(%q) keys = %q on error; want nil", tt.doc, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Check(%q) error %v; want nil", tt.doc, err)
			}
			if !slices.Equal(got, tt.wantKeys) {
				t.Errorf("Check(%q) keys = %q; want %q", tt.doc, got, tt.wantKeys)
			}
		})
	}
}

func TestIsError(t *testing.T) {
	_, err := strictjson.Check([]byte(`{"a":1,"a":2}`), 10)
	if got, want := strictjson.IsError(err), true; got != want {
		t.Errorf("IsError(%v) = %v; want %v", err, got, want)
	}
	if got, want := strictjson.IsError(json.Unmarshal([]byte(`x`), new(any))), false; got != want {
		t.Errorf("IsError(json error) = %v; want %v", got, want)
	}
	if got, want := strictjson.IsError(nil), false; got != want {
		t.Errorf("IsError(nil) = %v; want %v", got, want)
	}
}

func FuzzCheck(f *testing.F) {
	for _, seed := range []string{
		`{}`, `[]`, `"x"`, `1`, `null`, `{"a":1}`, `{"a":[1,{"b":null}],"c":"d"}`,
		`{"Email":1,"email":2}`, `{"\u212a":1,"k":2}`, `{"\u017f":1,"s":2}`,
		`{"a":1,"a":2}`, `{} x`, `{}{}`, `[[[[[[[[[[]]]]]]]]]]`, "{\"a\":\"\xff\"}",
		`{"a":{"b":{"c":{"d":{}}}}}`, `{"a":1,}`, `[1 2]`,
	} {
		f.Add([]byte(seed), 8)
	}
	f.Fuzz(func(t *testing.T, doc []byte, maxDepth int) {
		if maxDepth < 0 || maxDepth > 64 {
			maxDepth = 64
		}
		keys, err := strictjson.Check(doc, maxDepth)
		if err != nil {
			if !strictjson.IsError(err) {
				t.Fatalf("Check(%q) error %T; want *strictjson.Error", doc, err)
			}
			return
		}
		if !json.Valid(doc) {
			t.Fatalf("Check(%q) accepted a document json.Valid rejects", doc)
		}
		for i := range keys {
			for j := i + 1; j < len(keys); j++ {
				if strings.EqualFold(keys[i], keys[j]) {
					t.Fatalf("Check(%q) accepted keys %q and %q, which are EqualFold", doc, keys[i], keys[j])
				}
			}
		}
		// Any accepted object's keys must be exactly what encoding/json sees,
		// in order.
		var m map[string]json.RawMessage
		if json.Unmarshal(doc, &m) == nil && m != nil {
			if got, want := len(keys), len(m); got != want {
				t.Fatalf("Check(%q) returned %d top keys; encoding/json sees %d", doc, got, want)
			}
			for _, k := range keys {
				if _, ok := m[k]; !ok {
					t.Fatalf("Check(%q) returned top key %q that encoding/json does not see", doc, k)
				}
			}
		}
	})
}
