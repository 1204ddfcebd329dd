package main

// The end-to-end harness: one clock, one response type with its checkers,
// and the JSON helpers every surface's tests share. startServer (main_test.go)
// is the one way to start Usher in-process; its options are edit funcs:
// withThunder, a testClock's Use, an smtpSink's Configure. The typed clients
// of the three surfaces are in client_*_test.go.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/usher"
)

// Passwords that pass the default policy.
const (
	userPassword    = "lantern-tabby-41"
	otherPassword   = "harbour-quince-77"
	sessionPassword = "correct horse battery"
	newPassword     = "staple battery horse correct"
)

// unknownID is a well-formed UUIDv7 that names no user.
const unknownID = "01890a5d-ac96-7f4b-bcce-b302099a8057"

// testClock is the settable clock tests give to Main.Now, safe for
// concurrent use. It starts at the real time (the development certificates
// are issued by it), truncated to the millisecond.
type testClock struct {
	start time.Time
	mu    sync.Mutex
	now   time.Time
}

func newTestClock() *testClock {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return &testClock{start: now, now: now}
}

// Now returns the clock's time.
func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set puts the clock at t.
func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Use is the startServer option that runs Usher on the clock.
func (c *testClock) Use(m *Main) { m.Now = c.Now }

// response is one HTTP answer of any surface, body read.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) String() string {
	return fmt.Sprintf("%d %q", r.Status, shorten(string(bytes.TrimSpace(r.Body))))
}

// reqOpt adjusts a request before it is sent.
type reqOpt func(*http.Request)

// header sets a request header; an empty value removes it.
func header(k, v string) reqOpt {
	return func(r *http.Request) {
		if v == "" {
			r.Header.Del(k)
			return
		}
		r.Header.Set(k, v)
	}
}

// headers sets several request headers, as header does.
func headers(h map[string]string) reqOpt {
	return func(r *http.Request) {
		for k, v := range h {
			header(k, v)(r)
		}
	}
}

// bearer sends a bearer token.
func bearer(tok string) reqOpt { return header("Authorization", "Bearer "+tok) }

// newRequest builds a request; a non-empty body is sent as application/json
// unless an option changes it. opts run last.
func newRequest(t testing.TB, method, url, body string, opts ...reqOpt) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatalf("%s %s: %v", method, shorten(url), err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	return req
}

// send runs req and reads the whole answer. It does not touch a testing.T,
// so goroutines may call it.
func send(c *http.Client, req *http.Request) (response, error) {
	res, err := c.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, err
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: b}, nil
}

// doRequest builds and sends a request, failing the test on a transport
// error.
func doRequest(t testing.TB, c *http.Client, method, url, body string, opts ...reqOpt) response {
	t.Helper()
	r, err := send(c, newRequest(t, method, url, body, opts...))
	if err != nil {
		t.Fatalf("%s %s: %v", method, shorten(url), err)
	}
	return r
}

// wantStatus stops the test unless r has status.
func (r response) wantStatus(t testing.TB, what string, status int) response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: got %v, want %d", what, r, status)
	}
	return r
}

// decode decodes r's JSON body into v.
func (r response) decode(t testing.TB, what string, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("%s: %v: %s", what, err, shorten(string(r.Body)))
	}
}

// wantTrue checks a 200 `true` answer (password/send and reset).
func (r response) wantTrue(t testing.TB, what string) {
	t.Helper()
	if r.Status != http.StatusOK || string(bytes.TrimSpace(r.Body)) != "true" {
		t.Fatalf("%s: got %v, want 200 true", what, r)
	}
}

// wantNativeError checks the native error of the backend and public
// surfaces: status, application/json, exactly {"error":{"code","message"}}
// with a snake_case code and a message, and the code.
func (r response) wantNativeError(t testing.TB, what string, status int, code usher.Code) {
	t.Helper()
	if r.Status != status {
		t.Errorf("%s: got %v, want %d %s", what, r, status, code)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type: got %q, want application/json", what, ct)
	}
	if got := errorCode(t, r.Body); got != string(code) {
		t.Errorf("%s: error code: got %q, want %q", what, got, code)
	}
}

// errorMessage returns the message of a native error body.
func errorMessage(t testing.TB, body []byte) string {
	t.Helper()
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("not a native error body: %s", body)
	}
	return e.Error.Message
}

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// errorCode checks that body is the native error body, exactly
// {"error":{"code","message"}}, and returns its code.
func errorCode(t testing.TB, body []byte) string {
	t.Helper()
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(body, &outer); err != nil {
		t.Errorf("error body %q: %v", shorten(string(body)), err)
		return ""
	}
	var inner map[string]json.RawMessage
	if err := json.Unmarshal(outer["error"], &inner); err != nil {
		t.Errorf("error body %q: %v", shorten(string(body)), err)
		return ""
	}
	if got, want := keys(outer), []string{"error"}; !slices.Equal(got, want) {
		t.Errorf("error body keys: got %q, want %q", got, want)
	}
	if got, want := keys(inner), []string{"code", "message"}; !slices.Equal(got, want) {
		t.Errorf("error body keys under error: got %q, want %q", got, want)
	}
	var code, msg string
	if err := json.Unmarshal(inner["code"], &code); err != nil || !snakeCase.MatchString(code) {
		t.Errorf("error code: got %s, want a snake_case string", inner["code"])
	}
	if err := json.Unmarshal(inner["message"], &msg); err != nil || msg == "" {
		t.Errorf("error message: got %s, want a non-empty string", inner["message"])
	}
	return code
}

// checkCommon checks what API.md's common rules require of every response
// of the backend.
func checkCommon(t testing.TB, what string, r response) {
	t.Helper()
	if r.Header.Get("X-Request-ID") == "" {
		t.Errorf("%s: no X-Request-ID in the response", what)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s: Cache-Control: got %q, want %q", what, got, "no-store")
	}
	if r.Status == http.StatusNoContent && len(r.Body) != 0 {
		t.Errorf("%s: 204 with a body: %q", what, shorten(string(r.Body)))
	}
	if len(r.Body) > 0 {
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			t.Errorf("%s: Content-Type: got %q, want application/json", what, r.Header.Get("Content-Type"))
		}
		if !json.Valid(r.Body) {
			t.Errorf("%s: body is not JSON: %q", what, shorten(string(r.Body)))
		}
	}
	if r.Status >= 400 {
		errorCode(t, r.Body)
	}
	if r.Status >= 500 {
		t.Errorf("%s: got status %d, Usher must not answer 5xx here; body %s", what, r.Status, r.Body)
	}
}

func keys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// shorten keeps huge paths and bodies out of failure messages.
func shorten(s string) string {
	if len(s) > 200 {
		return fmt.Sprintf("%s…(%d bytes)", s[:200], len(s))
	}
	return s
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// jsonDiff reports how got differs from want as JSON values ("" when equal).
// Numbers compare by value, exactly, so a big integer must survive intact.
func jsonDiff(got, want []byte) string {
	g, err := decodeValue(got)
	if err != nil {
		return fmt.Sprintf("got invalid JSON %q: %v", shorten(string(got)), err)
	}
	w, err := decodeValue(want)
	if err != nil {
		return fmt.Sprintf("want invalid JSON %q: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		return fmt.Sprintf("got %s, want %s", shorten(string(bytes.TrimSpace(got))), shorten(string(bytes.TrimSpace(want))))
	}
	return ""
}

func decodeValue(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the value")
	}
	return canonicalNumbers(v), nil
}

func canonicalNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		r, ok := new(big.Rat).SetString(string(v))
		if !ok {
			return "bad number " + string(v)
		}
		return r.RatString()
	case map[string]any:
		for k, e := range v {
			v[k] = canonicalNumbers(e)
		}
	case []any:
		for i, e := range v {
			v[i] = canonicalNumbers(e)
		}
	}
	return v
}

// eventually polls cond until it holds or the timeout passes. It is for
// state that changes in a background job (the outbox relay).
func eventually(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("%s: not within %s", what, timeout)
		}
	}
}
