package thunder

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/strictjson"
	"github.com/usherhq/usher/internal/usher"
)

// FuzzDecodeUser checks decodeUser on every body that api.ReadBody would
// pass it: it never panics; a user it returns has an address, and its
// custom data is a JSON object of the body's other top-level members, in
// order; a body it refuses gets one of Thunder's messages.
func FuzzDecodeUser(f *testing.F) {
	for _, seed := range []string{
		`{"email":{"address":"sam@example.com"},"password":"correct horse battery","plan":"pro"}`,
		`{"email":{"address":"sam@example.com","verified":true,"verificationToken":null},"password":"$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA","creationTime":1,"lastUpdateTime":2}`,
		`{"email":{"address":"sam@example.com"}}`,
		`null`,
		` null `,
		`{}`,
		`[]`,
		`[{"email":{"address":"sam@example.com"}}]`,
		`"sam@example.com"`,
		`42`,
		`{"email":null,"password":null}`,
		`{"email":"sam@example.com","password":"x"}`,
		`{"email":{"address":""}}`,
		`{"email":{"address":123}}`,
		`{"email":{"address":"sam@example.com"},"password":12345678}`,
		`{"email":{"address":"sam@example.com"},"password":{"plain":"x"}}`,
		`{"email":{"address":"sam@example.com"},"password":["x"]}`,
		`{"email":{"address":"sam@example.com"},"password":true}`,
		`{"email":{"address":"sam@example.com"},"a":{"b":{"c":[1,{"d":[[[]]]}]}},"e":[{"f":null}]}`,
		`{"email":{"address":"sam@example.com"},"Email":{"address":"eve@example.com"}}`,
		`{"email":{"address":"sam@example.com"},"e\u006dail":{"address":"eve@example.com"}}`,
		`{"\u0065mail":{"address":"sam@example.com"},"pass\u0077ord":"x","\u00e9":1}`,
		`{"email":{"address":"sam@example.com"},"creationTime":"yesterday","lastUpdateTime":{}}`,
		`{"email":{"address":"sam@example.com"},"n":1e999999,"m":-0.0000000000000000000001e-400,"k":123456789012345678901234567890}`,
		`{"email":{"address":"sam@example.com"},"":"empty key","\n":"newline","\u2028":"line separator"}`,
		"\t{\"email\" : {\"address\" : \"sam@example.com\"} , \"p\" : [ 1 , 2 ] }\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		topKeys, err := strictjson.Check(body, account.MaxDataDepth+1)
		if err != nil {
			t.Skip() // api.ReadBody refuses it before decodeUser
		}
		in, err := decodeUser(body)
		if err != nil {
			var te *thunderError
			if !errors.As(err, &te) || te.msg == "" {
				t.Fatalf("decodeUser(%q): error %#v is not one of Thunder's messages", body, err)
			}
			if got := api.Status(usher.ErrorCode(err)); got != http.StatusBadRequest {
				t.Errorf("decodeUser(%q): error %q answers %d, want 400", body, te.msg, got)
			}
			return
		}
		if in.email == "" {
			t.Errorf("decodeUser(%q): a user without an address", body)
		}
		if !json.Valid(in.data) || !bytes.HasPrefix(in.data, []byte("{")) {
			t.Fatalf("decodeUser(%q): data %q is not a JSON object", body, in.data)
		}
		var want []string
		for _, k := range topKeys {
			if !reserved[k] {
				want = append(want, k)
			}
		}
		if got := objectKeys(t, in.data); !slices.Equal(got, want) {
			t.Errorf("decodeUser(%q): data keys %q, want %q", body, got, want)
		}
		props := make([]string, 0, len(in.props))
		for k := range in.props {
			props = append(props, k)
		}
		slices.Sort(props)
		sorted := slices.Clone(want)
		slices.Sort(sorted)
		if !slices.Equal(props, sorted) {
			t.Errorf("decodeUser(%q): props keys %q, want %q", body, props, sorted)
		}
	})
}

// objectKeys returns the top-level keys of a JSON object, in order.
func objectKeys(t *testing.T, obj []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(obj))
	if _, err := dec.Token(); err != nil {
		t.Fatalf("%q: %v", obj, err)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatalf("%q: %v", obj, err)
		}
		keys = append(keys, k.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%q: %v", obj, err)
		}
	}
	return keys
}
