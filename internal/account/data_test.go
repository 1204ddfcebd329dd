package account_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/usher"
)

// dataOfSize returns a compact JSON object of exactly n bytes.
func dataOfSize(t *testing.T, n int) string {
	t.Helper()
	const frame = `{"x":""}`
	s := `{"x":"` + strings.Repeat("a", n-len(frame)) + `"}`
	if len(s) != n {
		t.Fatalf("dataOfSize(%d) made %d bytes", n, len(s))
	}
	return s
}

// nestedData returns an object nested depth levels deep, e.g. depth 2 is
// {"a":{"a":1}}.
func nestedData(depth int) string {
	return strings.Repeat(`{"a":`, depth-1) + `{"a":1}` + strings.Repeat("}", depth-1)
}

func TestNormalizeData(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want string
	}{
		{name: "nil", raw: "", want: `{}`},
		{name: "whitespace", raw: " \n\t", want: `{}`},
		{name: "null", raw: `null`, want: `{}`},
		{name: "null spaced", raw: " null\n", want: `{}`},
		{name: "empty object", raw: `{}`, want: `{}`},
		{name: "compacted", raw: "{ \"a\" : [ 1 , 2 ] ,\n \"b\" : { \"c\" : \"d e\" } }", want: `{"a":[1,2],"b":{"c":"d e"}}`},
		{name: "key order kept", raw: `{"z":1,"a":2}`, want: `{"z":1,"a":2}`},
		{name: "numbers kept as written", raw: `{"n":1.50,"big":12345678901234567890}`, want: `{"n":1.50,"big":12345678901234567890}`},
		{name: "unicode kept", raw: `{"ключ":"é\u00e9"}`, want: `{"ключ":"é\u00e9"}`},
		{name: "64 KiB compact", raw: dataOfSize(t, account.MaxDataBytes), want: dataOfSize(t, account.MaxDataBytes)},
		{name: "over 64 KiB before compaction", raw: strings.Replace(dataOfSize(t, account.MaxDataBytes), ":", " :  ", 1), want: dataOfSize(t, account.MaxDataBytes)},
		{name: "depth 32", raw: nestedData(account.MaxDataDepth), want: nestedData(account.MaxDataDepth)},
		{name: "array depth 32", raw: `{"a":` + strings.Repeat("[", 31) + strings.Repeat("]", 31) + `}`, want: `{"a":` + strings.Repeat("[", 31) + strings.Repeat("]", 31) + `}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := account.NormalizeData(json.RawMessage(tt.raw))
			if err != nil {
				t.Fatalf("NormalizeData error %v; want nil", err)
			}
			if string(got) != tt.want {
				t.Errorf("NormalizeData = %.200q; want %.200q", got, tt.want)
			}
		})
	}
}

func TestNormalizeDataRejects(t *testing.T) {
	tests := []struct {
		name string
		raw  string
	}{
		{name: "array", raw: `[]`},
		{name: "array of objects", raw: `[{}]`},
		{name: "string", raw: `"x"`},
		{name: "number", raw: `1`},
		{name: "true", raw: `true`},
		{name: "truncated", raw: `{"a":1`},
		{name: "trailing data", raw: `{} x`},
		{name: "two objects", raw: `{}{}`},
		{name: "invalid utf-8", raw: "{\"a\":\"\xff\"}"},
		{name: "over 64 KiB", raw: dataOfSize(t, account.MaxDataBytes+1)},
		{name: "depth 33", raw: nestedData(account.MaxDataDepth + 1)},
		{name: "array depth 33", raw: `{"a":` + strings.Repeat("[", 32) + strings.Repeat("]", 32) + `}`},
		{name: "duplicate key", raw: `{"a":1,"a":2}`},
		{name: "duplicate nested key", raw: `{"a":{"b":1,"b":2}}`},
		{name: "case-variant keys", raw: `{"Email":1,"email":2}`},
		{name: "kelvin sign and k", raw: `{"\u212a":1,"k":2}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := account.NormalizeData(json.RawMessage(tt.raw))
			if code, want := usher.ErrorCode(err), usher.InvalidData; code != want {
				t.Fatalf("NormalizeData(%.100q) = %.100q, code %q; want code %q", tt.raw, got, code, want)
			}
			if got != nil {
				t.Errorf("NormalizeData returned %.100q with an error; want nil", got)
			}
		})
	}
}

func FuzzNormalizeData(f *testing.F) {
	for _, seed := range []string{
		``, `null`, `{}`, `{"a":1}`, ` { "a" : [ 1 , { "b" : null } ] } `, `[]`, `"x"`, `1`,
		`{"a":1,"a":2}`, `{"Email":1,"email":2}`, `{} x`, `{}{}`, "{\"a\":\"\xff\"}",
		`{"a":{"a":{"a":{"a":{"a":{}}}}}}`, `{"a":"\u2028"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := account.NormalizeData(raw)
		if err != nil {
			if code, want := usher.ErrorCode(err), usher.InvalidData; code != want {
				t.Fatalf("NormalizeData(%q) code %q; want %q", raw, code, want)
			}
			return
		}
		if len(got) > account.MaxDataBytes {
			t.Fatalf("NormalizeData(%q) = %d bytes; want at most %d", raw, len(got), account.MaxDataBytes)
		}
		if !json.Valid(got) || len(got) == 0 || got[0] != '{' {
			t.Fatalf("NormalizeData(%q) = %q; want a JSON object", raw, got)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, got); err != nil || !bytes.Equal(buf.Bytes(), got) {
			t.Fatalf("NormalizeData(%q) = %q; want it compact", raw, got)
		}
		var obj map[string]any
		if err := json.Unmarshal(got, &obj); err != nil || obj == nil {
			t.Fatalf("NormalizeData(%q) = %q; does not decode to an object: %v", raw, got, err)
		}
	})
}

func TestNormalizeDataRefusesReservedKeys(t *testing.T) {
	for _, k := range []string{"email", "Email", "PASSWORD", "password", "creationTime", "CreationTime", "lastUpdateTime", "lastupdatetime"} {
		_, err := account.NormalizeData([]byte(`{"` + k + `":1}`))
		if got := usher.ErrorCode(err); got != usher.InvalidData {
			t.Errorf("data with top-level key %q: got %v, want %s", k, err, usher.InvalidData)
		}
	}
	for _, raw := range []string{`{"emails":1}`, `{"password_hint":"x"}`, `{"nested":{"password":1,"Email":2}}`} {
		if _, err := account.NormalizeData([]byte(raw)); err != nil {
			t.Errorf("NormalizeData(%s): %v, want it accepted", raw, err)
		}
	}
}
