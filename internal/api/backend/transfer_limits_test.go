package backend_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/usher"
)

// hasUser reports, after a scenario, whether the default tenant has email.
func hasUser(email string, want bool) func(*testing.T, *env) {
	return func(t *testing.T, e *env) {
		t.Helper()
		_, err := e.Service.UserByEmail(t.Context(), e.Tenant.ID, email)
		if got := err == nil; got != want {
			t.Errorf("%s in the default tenant: %v (%v); want %v", email, got, err, want)
		}
	}
}

// withCert gives req the verified client certificate the listener would.
func withCert(t *testing.T, req *http.Request) {
	req.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{clientCert(t)}}}
}

// TestImportRefusesBeforeReading: a wrong charset or conflict policy is
// refused before any line is read or written.
func TestImportRefusesBeforeReading(t *testing.T) {
	line := `{"email":"ann@example.com","password":"` + annPassword + `"}`
	ndjson := func(ct string) map[string]string { return map[string]string{"Content-Type": ct} }
	run(t, []scenario{
		{name: "UTF-16", method: "POST", path: "/users/import", header: ndjson("application/x-ndjson; charset=utf-16"), body: line,
			status: http.StatusUnsupportedMediaType, wantCode: usher.MediaType, after: hasUser("ann@example.com", false)},
		{name: "UTF-8 named", method: "POST", path: "/users/import", header: ndjson("application/x-ndjson; charset=UTF-8"), body: line,
			status: http.StatusOK, wantBody: `{"created":1,"updated":0,"skipped":0,"refused":0,"errors":[]}`, after: hasUser("ann@example.com", true)},
		{name: "unknown policy", method: "POST", path: "/users/import?on_conflict=replace", header: ndjson("application/x-ndjson"), body: line,
			status: http.StatusBadRequest, wantCode: usher.Invalid, after: hasUser("ann@example.com", false)},
	})
}

// TestImportsAtOnceAreBounded: while two imports stream, a third is
// answered 503 with Retry-After, and goes through once one has ended.
func TestImportsAtOnceAreBounded(t *testing.T) {
	e := newEnv(t, false)
	type running struct {
		w    *io.PipeWriter
		done chan *httptest.ResponseRecorder
	}
	start := func() running {
		pr, pw := io.Pipe()
		req := httptest.NewRequestWithContext(t.Context(), "POST", "/users/import", pr)
		req.Header.Set("Content-Type", "application/x-ndjson")
		withCert(t, req)
		r := running{w: pw, done: make(chan *httptest.ResponseRecorder, 1)}
		go func() {
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			r.done <- rec
		}()
		return r
	}
	first, second := start(), start()
	// Both hold their slot once they have read a line.
	for _, r := range []running{first, second} {
		if _, err := io.WriteString(r.w, `{"email":"x@example.com","password":"`+annPassword+`"}`+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	third := httptest.NewRequestWithContext(t.Context(), "POST", "/users/import", strings.NewReader(""))
	third.Header.Set("Content-Type", "application/x-ndjson")
	withCert(t, third)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, third)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("a third import: %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	first.w.Close()
	select {
	case r := <-first.done:
		if r.Code != http.StatusOK {
			t.Errorf("the first import: %d %s", r.Code, r.Body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the first import did not end")
	}
	rec = httptest.NewRecorder()
	third = httptest.NewRequestWithContext(t.Context(), "POST", "/users/import", strings.NewReader(""))
	third.Header.Set("Content-Type", "application/x-ndjson")
	withCert(t, third)
	e.h.ServeHTTP(rec, third)
	if rec.Code != http.StatusOK {
		t.Errorf("an import once a slot is free: %d %s", rec.Code, rec.Body)
	}
	second.w.Close()
	<-second.done
}
