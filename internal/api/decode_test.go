package api_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/usher"
)

// unknownLength hides the concrete reader type from httptest.NewRequest, so
// the request has ContentLength -1, as a chunked upload does.
type unknownLength struct{ r io.Reader }

func (u unknownLength) Read(p []byte) (int, error) { return u.r.Read(p) }

// newRequest builds a POST request. contentType "" leaves the header out;
// chunked makes the body's length unknown.
func newRequest(t *testing.T, body []byte, contentType string, chunked bool) *http.Request {
	t.Helper()
	var r io.Reader = bytes.NewReader(body)
	if chunked {
		r = unknownLength{r}
	}
	req := httptest.NewRequest(http.MethodPost, "/users", r)
	if chunked {
		if got, want := req.ContentLength, int64(-1); got != want {
			t.Fatalf("ContentLength = %d; want %d", got, want)
		}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

// objectOfSize returns a JSON object of exactly n bytes.
func objectOfSize(t *testing.T, n int) []byte {
	t.Helper()
	const frame = `{"data":{"x":""}}`
	if n < len(frame) {
		t.Fatalf("objectOfSize(%d): too small", n)
	}
	b := []byte(`{"data":{"x":"` + strings.Repeat("a", n-len(frame)) + `"}}`)
	if len(b) != n {
		t.Fatalf("objectOfSize(%d) made %d bytes", n, len(b))
	}
	return b
}

type signup struct {
	Email    string          `json:"email"`
	Password string          `json:"password"`
	Data     json.RawMessage `json:"data"`
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name        string
		body        []byte
		contentType string
		chunked     bool
		want        signup
		wantCode    usher.Code
	}{
		{name: "no content type", body: []byte(`{"email":"a@x.com","password":"p"}`), want: signup{Email: "a@x.com", Password: "p"}},
		{name: "application/json", body: []byte(`{"email":"a@x.com"}`), contentType: "application/json", want: signup{Email: "a@x.com"}},
		{name: "json with charset", body: []byte(`{"email":"a@x.com"}`), contentType: "application/json; charset=utf-8", want: signup{Email: "a@x.com"}},
		{name: "json upper case", body: []byte(`{"email":"a@x.com"}`), contentType: "Application/JSON", want: signup{Email: "a@x.com"}},
		{name: "text/plain", body: []byte(`{"email":"a@x.com"}`), contentType: "text/plain", wantCode: usher.MediaType},
		{name: "form", body: []byte(`email=a`), contentType: "application/x-www-form-urlencoded", wantCode: usher.MediaType},
		{name: "json suffix type", body: []byte(`{}`), contentType: "application/problem+json", wantCode: usher.MediaType},
		{name: "garbage content type", body: []byte(`{}`), contentType: ";;;", wantCode: usher.MediaType},
		{name: "garbage content type 2", body: []byte(`{}`), contentType: "application/json; charset", wantCode: usher.MediaType},
		{name: "data kept raw", body: []byte(`{"data":{"a":[1,2]}}`), want: signup{Data: json.RawMessage(`{"a":[1,2]}`)}},
		{name: "empty object", body: []byte(`{}`)},
		{name: "1 MiB", body: objectOfSize(t, api.MaxBodyBytes), want: signup{Data: json.RawMessage(objectOfSize(t, api.MaxBodyBytes)[8 : api.MaxBodyBytes-1])}},
		{name: "1 MiB chunked", body: objectOfSize(t, api.MaxBodyBytes), chunked: true, want: signup{Data: json.RawMessage(objectOfSize(t, api.MaxBodyBytes)[8 : api.MaxBodyBytes-1])}},
		{name: "1 MiB + 1", body: objectOfSize(t, api.MaxBodyBytes+1), wantCode: usher.TooLarge},
		{name: "1 MiB + 1 chunked", body: objectOfSize(t, api.MaxBodyBytes+1), chunked: true, wantCode: usher.TooLarge},
		{name: "much larger chunked", body: objectOfSize(t, 3*api.MaxBodyBytes), chunked: true, wantCode: usher.TooLarge},
		{name: "empty body", body: nil, wantCode: usher.InvalidJSON},
		{name: "empty body chunked", body: nil, chunked: true, wantCode: usher.InvalidJSON},
		{name: "whitespace body", body: []byte(" \r\n\t"), wantCode: usher.InvalidJSON},
		{name: "unknown field", body: []byte(`{"email":"a@x.com","admin":true}`), wantCode: usher.InvalidJSON},
		{name: "EMAIL for email", body: []byte(`{"EMAIL":"a@x.com"}`), wantCode: usher.InvalidJSON},
		{name: "Email for email", body: []byte(`{"Email":"a@x.com"}`), wantCode: usher.InvalidJSON},
		{name: "Email beside email", body: []byte(`{"email":"a@x.com","Email":"b@x.com"}`), wantCode: usher.InvalidJSON},
		{name: "kelvin sign in key", body: []byte(`{"passwor\u212a":"p"}`), wantCode: usher.InvalidJSON},
		{name: "duplicate field", body: []byte(`{"email":"a@x.com","email":"b@x.com"}`), wantCode: usher.InvalidJSON},
		{name: "wrong type", body: []byte(`{"email":1}`), wantCode: usher.InvalidJSON},
		{name: "wrong type object", body: []byte(`{"password":{}}`), wantCode: usher.InvalidJSON},
		{name: "null", body: []byte(`null`), wantCode: usher.InvalidJSON},
		{name: "array", body: []byte(`[]`), wantCode: usher.InvalidJSON},
		{name: "string", body: []byte(`"x"`), wantCode: usher.InvalidJSON},
		{name: "number", body: []byte(`1`), wantCode: usher.InvalidJSON},
		{name: "invalid utf-8", body: []byte("{\"email\":\"a\xff@x.com\"}"), wantCode: usher.InvalidJSON},
		{name: "truncated", body: []byte(`{"email":"a@x.com"`), wantCode: usher.InvalidJSON},
		{name: "trailing data", body: []byte(`{} x`), wantCode: usher.InvalidJSON},
		{name: "two objects", body: []byte(`{}{}`), wantCode: usher.InvalidJSON},
		{name: "data depth 32", body: []byte(`{"data":` + strings.Repeat("[", 32) + strings.Repeat("]", 32) + `}`), want: signup{Data: json.RawMessage(strings.Repeat("[", 32) + strings.Repeat("]", 32))}},
		{name: "data depth 33", body: []byte(`{"data":` + strings.Repeat("[", 33) + strings.Repeat("]", 33) + `}`), wantCode: usher.InvalidJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(t, tt.body, tt.contentType, tt.chunked)
			var got signup
			err := api.Decode(req, &got)
			if got, want := usher.ErrorCode(err), tt.wantCode; got != want {
				t.Fatalf("Decode error code = %q (%v); want %q", got, err, want)
			}
			if err != nil {
				return
			}
			if got.Email != tt.want.Email || got.Password != tt.want.Password || !bytes.Equal(got.Data, tt.want.Data) {
				t.Errorf("Decode = %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeStatus(t *testing.T) {
	tests := []struct {
		name        string
		body        []byte
		contentType string
		chunked     bool
		want        int
	}{
		{name: "text/plain", body: []byte(`{}`), contentType: "text/plain", want: http.StatusUnsupportedMediaType},
		{name: "too large", body: objectOfSize(t, api.MaxBodyBytes+1), want: http.StatusRequestEntityTooLarge},
		{name: "too large chunked", body: objectOfSize(t, api.MaxBodyBytes+1), chunked: true, want: http.StatusRequestEntityTooLarge},
		{name: "empty", body: nil, want: http.StatusBadRequest},
		{name: "unknown field", body: []byte(`{"x":1}`), want: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dst signup
			err := api.Decode(newRequest(t, tt.body, tt.contentType, tt.chunked), &dst)
			if got, want := api.Status(usher.ErrorCode(err)), tt.want; got != want {
				t.Errorf("status = %d (%v); want %d", got, err, want)
			}
		})
	}
}

func TestDecodeDeclaredLengthTooLarge(t *testing.T) {
	// A Content-Length over the limit is refused before reading the body.
	req := newRequest(t, []byte(`{}`), "", false)
	req.ContentLength = api.MaxBodyBytes + 1
	var dst signup
	if got, want := usher.ErrorCode(api.Decode(req, &dst)), usher.TooLarge; got != want {
		t.Errorf("Decode error code = %q; want %q", got, want)
	}
}

func TestReadBody(t *testing.T) {
	tests := []struct {
		name        string
		body        []byte
		contentType string
		chunked     bool
		maxDepth    int
		wantCode    usher.Code
	}{
		{name: "object", body: []byte(`{"a":1}`)},
		{name: "array accepted", body: []byte(`[1,2]`)},
		{name: "scalar accepted", body: []byte(`"x"`)},
		{name: "charset", body: []byte(`{}`), contentType: "application/json; charset=utf-8"},
		{name: "text/plain", body: []byte(`{}`), contentType: "text/plain", wantCode: usher.MediaType},
		{name: "garbage content type", body: []byte(`{}`), contentType: "not a type", wantCode: usher.MediaType},
		{name: "1 MiB", body: objectOfSize(t, api.MaxBodyBytes)},
		{name: "1 MiB chunked", body: objectOfSize(t, api.MaxBodyBytes), chunked: true},
		{name: "1 MiB + 1", body: objectOfSize(t, api.MaxBodyBytes+1), wantCode: usher.TooLarge},
		{name: "1 MiB + 1 chunked", body: objectOfSize(t, api.MaxBodyBytes+1), chunked: true, wantCode: usher.TooLarge},
		{name: "empty", body: nil, wantCode: usher.InvalidJSON},
		{name: "duplicate keys", body: []byte(`{"a":1,"a":2}`), wantCode: usher.InvalidJSON},
		{name: "case-variant keys", body: []byte(`{"Email":1,"email":2}`), wantCode: usher.InvalidJSON},
		{name: "invalid utf-8", body: []byte("\"\xff\""), wantCode: usher.InvalidJSON},
		{name: "depth at limit", body: []byte(`[[[]]]`), maxDepth: 3},
		{name: "depth over limit", body: []byte(`[[[[]]]]`), maxDepth: 3, wantCode: usher.InvalidJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			depth := tt.maxDepth
			if depth == 0 {
				depth = api.MaxBodyDepth
			}
			got, err := api.ReadBody(newRequest(t, tt.body, tt.contentType, tt.chunked), depth)
			if code := usher.ErrorCode(err); code != tt.wantCode {
				t.Fatalf("ReadBody error code = %q (%v); want %q", code, err, tt.wantCode)
			}
			if err != nil {
				if got != nil {
					t.Errorf("ReadBody returned %d bytes with an error; want none", len(got))
				}
				return
			}
			if !bytes.Equal(got, tt.body) {
				t.Errorf("ReadBody = %d bytes; want the %d bytes sent", len(got), len(tt.body))
			}
		})
	}
}

// errReader fails mid-body, as a client that disconnects does.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestReadBodyReadError(t *testing.T) {
	req := httptest.NewRequest(http.MethodPost, "/users", errReader{})
	_, err := api.ReadBody(req, api.MaxBodyDepth)
	if got, want := api.Status(usher.ErrorCode(err)), http.StatusBadRequest; got != want {
		t.Errorf("status = %d (%v); want %d", got, err, want)
	}
}

func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"email":"a@x.com","password":"p","data":{}}`,
		`{"email":"a@x.com","password":"p","data":{"a":[1,{"b":null}]}}`,
		`{}`, `null`, `[]`, `"x"`, `1`, `{"EMAIL":"a"}`, `{"email":1}`, `{"data":1}`,
		`{"email":"a","email":"b"}`, `{"Email":"a","email":"b"}`, `{} x`, `{}{}`, "{\"email\":\"\xff\"}",
		` {"password":"\u0000"} `, `{"data":[[[[[[[[]]]]]]]]}`,
	} {
		f.Add([]byte(seed), "")
	}
	f.Add([]byte(`{}`), "text/plain")
	f.Add([]byte(`{}`), "application/json; charset=utf-8")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		req := httptest.NewRequest(http.MethodPost, "/users", bytes.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		var dst signup
		err := api.Decode(req, &dst)
		if err == nil {
			if !json.Valid(body) {
				t.Fatalf("Decode accepted %q, which json.Valid rejects", body)
			}
			return
		}
		var e *usher.Error
		if !errors.As(err, &e) {
			t.Fatalf("Decode error %T (%v); want *usher.Error", err, err)
		}
		if status := api.Status(e.Code); status < 400 || status > 499 {
			t.Fatalf("Decode error %v maps to status %d; want 4xx", err, status)
		}
	})
}
