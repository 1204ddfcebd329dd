package main

// The backend surface's HTTP rules: unknown routes and methods, and request
// ids on responses of every kind.

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestBackendRoutes(t *testing.T) {
	s := startServer(t, newTestClock().Use)
	be := s.BackendAPI
	id := be.newUser(t, "routes@example.com", "lantern-tabby-41")
	allows := func(methods ...string) func(*testing.T, response) {
		return func(t *testing.T, r response) {
			got := strings.Split(r.Header.Get("Allow"), ",")
			for i := range got {
				got[i] = strings.TrimSpace(got[i])
			}
			for _, m := range methods {
				if !slices.Contains(got, m) {
					t.Errorf("Allow: got %q, want it to hold %s", r.Header.Get("Allow"), m)
				}
			}
		}
	}
	runScenarios(t, be, []scenario{
		{name: "root", method: "GET", path: "/", status: 404, code: "not_found"},
		{name: "unknown path", method: "GET", path: "/nope", status: 404, code: "not_found"},
		{name: "unknown user sub-resource", method: "GET", path: "/users/" + id + "/nope", status: 404, code: "not_found"},
		{name: "too deep", method: "GET", path: "/users/" + id + "/data/extra", status: 404, code: "not_found"},
		{name: "trailing slash on a user", method: "GET", path: "/users/" + id + "/", status: 404, code: "not_found"},
		{name: "PATCH a user", method: "PATCH", path: "/users/" + id, body: `{}`, status: 405, code: "method_not_allowed", check: allows("GET", "DELETE")},
		{name: "PUT a user", method: "PUT", path: "/users/" + id, body: `{}`, status: 405, code: "method_not_allowed", check: allows("GET", "DELETE")},
		{name: "PATCH the collection", method: "PATCH", path: "/users/", body: `{}`, status: 405, code: "method_not_allowed", check: allows("GET", "POST")},
		{name: "DELETE the collection without slash", method: "DELETE", path: "/users", status: 405, code: "method_not_allowed", check: allows("GET", "POST")},
		{name: "POST email", method: "POST", path: "/users/" + id + "/email", body: `{"email":"x@example.com"}`, status: 405, code: "method_not_allowed", check: allows("PUT")},
		{name: "GET password", method: "GET", path: "/users/" + id + "/password", status: 405, code: "method_not_allowed", check: allows("PUT")},
		{name: "POST disable", method: "POST", path: "/users/" + id + "/disable", status: 405, code: "method_not_allowed", check: allows("PUT")},
		{name: "GET enable", method: "GET", path: "/users/" + id + "/enable", status: 405, code: "method_not_allowed", check: allows("PUT")},
		{name: "DELETE data", method: "DELETE", path: "/users/" + id + "/data", status: 405, code: "method_not_allowed", check: allows("GET", "PUT")},
		{name: "GET checkpw", method: "GET", path: "/users/" + id + "/checkpw", status: 405, code: "method_not_allowed", check: allows("POST")},
	})
}

// TestBackendRequestID sends request ids, sane and not, to responses of
// every kind (200, 201, 204, 400, 404, 405).
func TestBackendRequestID(t *testing.T) {
	s := startServer(t, newTestClock().Use)
	be := s.BackendAPI
	id := be.newUser(t, "rid@example.com", "lantern-tabby-41")
	targets := []struct {
		name, method, path, body string
		status                   int
	}{
		{"200", "GET", "/users/" + id, "", 200},
		{"201", "POST", "/users/", "", 201}, // body filled in per case
		{"204", "PUT", "/users/" + id + "/enable", "", 204},
		{"400", "PUT", "/users/" + id + "/data", "[", 400},
		{"404", "GET", "/users/xyz", "", 404},
		{"405", "PATCH", "/users/" + id, "", 405},
	}
	cases := []struct {
		name string
		sent string
		echo bool
	}{
		{"none sent", "", false},
		{"sane id", "req-42", true},
		{"sane id with every allowed sign", "Abc.def_9:ghi-0", true},
		{"uuid", "0b4c8a0e-5a9f-4a47-9d55-0f4f3b4d9c1e", true},
		{"500 characters", strings.Repeat("r", 500), false},
		{"space", "req 42", false},
		{"markup", "<script>alert(1)</script>", false},
		{"non-ASCII", "réq-42", false},
		{"quote and semicolon", `a";b`, false},
	}
	n := 0
	for _, c := range cases {
		for _, tg := range targets {
			t.Run(c.name+"/"+tg.name, func(t *testing.T) {
				body := tg.body
				if tg.status == 201 {
					n++
					body = fmt.Sprintf(`{"email":"rid%d@example.com","password":"lantern-tabby-41"}`, n)
				}
				var header map[string]string
				if c.sent != "" {
					header = map[string]string{"X-Request-ID": c.sent}
				}
				r := be.do(t, tg.method, tg.path, body, headers(header))
				if r.Status != tg.status {
					t.Fatalf("status: got %d, want %d", r.Status, tg.status)
				}
				checkRequestID(t, r.Header.Get("X-Request-ID"), c.sent, c.echo)
			})
		}
	}

	// A header folded over two lines (obs-fold) reaches Usher as one value
	// that held a CRLF; only HTTP/1.1 lets a client send it.
	t.Run("CRLF-folded id", func(t *testing.T) {
		sent := "abc\r\n X-Evil: 1"
		status, h := rawHTTP1(t, s, "GET /users/"+id+" HTTP/1.1\r\nHost: usher\r\nX-Request-ID: "+sent+"\r\nConnection: close\r\n\r\n")
		if status != http.StatusOK {
			t.Fatalf("status: got %d, want 200", status)
		}
		checkRequestID(t, h.Get("X-Request-ID"), sent, false)
		if h.Get("X-Evil") != "" {
			t.Errorf("X-Evil was injected into the response: %q", h.Get("X-Evil"))
		}
	})

	t.Run("generated ids differ", func(t *testing.T) {
		h1 := be.do(t, "GET", "/users/"+id, "").Header
		h2 := be.do(t, "GET", "/users/"+id, "").Header
		if h1.Get("X-Request-ID") == h2.Get("X-Request-ID") {
			t.Errorf("two requests got the same generated id %q", h1.Get("X-Request-ID"))
		}
	})
}

var saneID = regexp.MustCompile(`^[A-Za-z0-9._:-]{8,128}$`)

// checkRequestID checks the X-Request-ID of a response: the one sent when it
// is sane (echo), otherwise a fresh, plain one.
func checkRequestID(t *testing.T, got, sent string, echo bool) {
	t.Helper()
	switch {
	case echo && got != sent:
		t.Errorf("X-Request-ID: got %q, want the sent %q echoed", got, sent)
	case !echo && sent != "" && got == sent:
		t.Errorf("X-Request-ID: got %q, want a fresh id instead of the sent %q", shorten(got), shorten(sent))
	case !echo && !saneID.MatchString(got):
		t.Errorf("X-Request-ID: got %q, want a plain generated id", got)
	}
}

// rawHTTP1 writes a hand-made HTTP/1.1 request over a mutual-TLS connection
// and returns the response's status and headers.
func rawHTTP1(t *testing.T, s *testServer, raw string) (int, http.Header) {
	t.Helper()
	cfg := httpTransport(s.Client).TLSClientConfig.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	conn, err := tls.Dial("tcp", s.BackendAddr(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	checkCommon(t, "raw request", response{Status: res.StatusCode, Header: res.Header, Body: body})
	return res.StatusCode, res.Header
}
