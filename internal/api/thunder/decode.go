package thunder

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"unicode/utf8"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/usher"
)

// input is a user as a client sends it.
type input struct {
	email    string
	password *string                    // nil when absent or null
	props    map[string]json.RawMessage // the custom properties
	data     []byte                     // props as one JSON object, in the order sent
}

// reserved are the top-level keys that are not custom properties.
var reserved = map[string]bool{"email": true, "password": true, "creationTime": true, "lastUpdateTime": true}

// readUser reads a request body into a user. api.ReadBody checks the body
// (size, UTF-8, one value, no duplicate keys, depth); it is then walked once
// here: the email and password are taken out, and every other member is
// kept, in order, as a custom property. The use case then normalizes the
// properties as custom data (size, reserved names), as on every surface.
func readUser(r *http.Request) (input, error) {
	body, err := api.ReadBody(r, account.MaxDataDepth+1)
	if errors.Is(err, api.ErrEmptyBody) {
		return input{}, fail(usher.Invalid, msgNullUser, nil)
	}
	if err != nil {
		return input{}, err
	}
	return decodeUser(body)
}

// decodeUser parses a body that api.ReadBody accepted.
func decodeUser(body []byte) (input, error) {
	body = bytes.TrimSpace(body)
	if string(body) == "null" {
		return input{}, fail(usher.Invalid, msgNullUser, nil)
	}
	if len(body) == 0 || body[0] != '{' {
		return input{}, fail(usher.InvalidJSON, msgBadJSON, nil)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil { // {
		return input{}, fail(usher.InvalidJSON, msgBadJSON, nil)
	}
	in := input{props: map[string]json.RawMessage{}}
	var email, pw json.RawMessage
	var data bytes.Buffer
	data.WriteByte('{')
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return input{}, fail(usher.InvalidJSON, msgBadJSON, nil)
		}
		k, _ := kt.(string) // object keys are strings
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return input{}, fail(usher.InvalidJSON, msgBadJSON, nil)
		}
		switch {
		case k == "email":
			email = v
		case k == "password":
			pw = v
		case reserved[k]:
		default:
			if len(in.props) > 0 {
				data.WriteByte(',')
			}
			writeString(&data, k)
			data.WriteByte(':')
			data.Write(v)
			in.props[k] = v
		}
	}
	data.WriteByte('}')
	in.data = data.Bytes()

	var addr struct {
		Address *string `json:"address"`
	}
	if email == nil || string(email) == "null" || json.Unmarshal(email, &addr) != nil || addr.Address == nil || *addr.Address == "" {
		return input{}, fail(usher.Invalid, msgNoEmail, nil)
	}
	in.email = *addr.Address
	if pw != nil && string(pw) != "null" {
		var p string
		if json.Unmarshal(pw, &p) != nil {
			return input{}, fail(usher.InvalidJSON, msgBadJSON, &in.email)
		}
		in.password = &p
	}
	return in, nil
}

// latin1 reads a header value that is not UTF-8 as ISO-8859-1, the way
// Thunder's Java server reads headers (and Node.js clients send them).
func latin1(v string) string {
	if utf8.ValidString(v) {
		return v
	}
	r := make([]rune, len(v))
	for i := 0; i < len(v); i++ {
		r[i] = rune(v[i])
	}
	return string(r)
}
