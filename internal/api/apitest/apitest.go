// Package apitest holds what the surface handler tests share: requests with
// placeholders filled in, and checks of native bodies.
package apitest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/usherhq/usher/internal/usher"
)

// Vars are placeholders ("{id}") and their values, replaced in a request's
// path, headers and body, and in the answer a test wants.
type Vars map[string]string

// Expand replaces every placeholder of v in s.
func (v Vars) Expand(s string) string {
	var pairs []string
	for k, val := range v {
		pairs = append(pairs, k, val)
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// Serve sends one request to h, with v's placeholders filled in; edit, when
// given, adjusts the request first (a client certificate, a peer address).
func Serve(t testing.TB, h http.Handler, v Vars, method, path string, header map[string]string, body string, edit func(*http.Request)) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), method, v.Expand(path), strings.NewReader(v.Expand(body)))
	for k, val := range header {
		req.Header.Set(k, v.Expand(val))
	}
	if edit != nil {
		edit(req)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// CheckNativeBody checks a native answer: an error of code with a message
// (when code is set), no body (when want is ""), or the JSON want.
func CheckNativeBody(t testing.TB, rec *httptest.ResponseRecorder, want string, code usher.Code) {
	t.Helper()
	switch {
	case code != "":
		var got struct {
			Error struct {
				Code    usher.Code `json:"code"`
				Message string     `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Error.Code != code || got.Error.Message == "" {
			t.Errorf("body: got %s, want a native error with code %q and a message", rec.Body, code)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type of an error: got %q, want application/json", ct)
		}
	case want == "":
		if rec.Body.Len() != 0 {
			t.Errorf("body: got %s, want none", rec.Body)
		}
	default:
		var got, wantV any
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("body %q is not JSON: %v", rec.Body, err)
		}
		if err := json.Unmarshal([]byte(want), &wantV); err != nil {
			t.Fatalf("the wanted body %q is not JSON: %v", want, err)
		}
		if diff := cmp.Diff(wantV, got); diff != "" {
			t.Errorf("body (-want +got):\n%s", diff)
		}
	}
}

// caller is a client at an address.
type caller string

func (c caller) ClientAddr() string { return string(c) }

// Ctx returns the test's context as a request that httptest makes carries
// it (its client is 192.0.2.1), for use cases a test calls directly that
// count per client address: lockout, reset requests and code tries.
func Ctx(t testing.TB) context.Context {
	return usher.WithCaller(t.Context(), caller("192.0.2.1"))
}
