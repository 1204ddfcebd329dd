package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/server"
)

// With public-tls-cert the public listener speaks HTTPS with the given
// certificate (real ones, from a CA of the test's own), links and hints
// name https://, and a plain HTTP request is refused.
func TestPublicListenerServesTLS(t *testing.T) {
	files, _, err := server.EnsureDevCA(t.TempDir(), time.Now()) // a CA apart from Usher's data
	if err != nil {
		t.Fatal(err)
	}
	out := &watchBuffer{want: "/verify?", seen: make(chan struct{})}
	s := startServer(t, func(m *Main) {
		m.Config.PublicTLSCert, m.Config.PublicTLSKey = files.ServerCert, files.ServerKey
		m.Out = out
	})
	base := "https://" + s.PublicAddr()
	c := mustClient(t, files.CA, "", "") // trusts the test's CA, presents no certificate

	res, err := c.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz over TLS: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.TLS == nil {
		t.Fatalf("GET /healthz: status %d, TLS %v; want 200 over TLS", res.StatusCode, res.TLS != nil)
	}

	req, _ := http.NewRequest(http.MethodPost, base+"/register",
		strings.NewReader(`{"email":"tls@example.com","password":"correct horse battery"}`))
	req.Header.Set("SB-PUBLIC-KEY", s.Tenant.PublicKey)
	req.Header.Set("Content-Type", "application/json")
	res, err = c.Do(req)
	if err != nil {
		t.Fatalf("POST /register over TLS: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var tok string
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &tok) != nil || tok == "" {
		t.Fatalf("POST /register: %d %s; want 200 and a token", res.StatusCode, body)
	}

	plain := &http.Client{Timeout: 10 * time.Second}
	if res, err := plain.Get("http://" + s.PublicAddr() + "/healthz"); err == nil {
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the TLS listener: got %d, want 400", res.StatusCode)
		}
	}

	if want := "Public API:  " + base; !strings.Contains(out.String(), want) {
		t.Errorf("start-up hints:\n%s\nwant %q", out.String(), want)
	}
	// The verification email queued by the registration links to https://.
	select {
	case <-out.seen:
	case <-time.After(10 * time.Second):
		t.Fatalf("no verification email printed:\n%s", out.String())
	}
	if !strings.Contains(out.String(), base+"/verify?") {
		t.Errorf("the verification email does not link to %s/verify:\n%s", base, out.String())
	}
}

// watchBuffer is a syncBuffer that closes seen once what it holds contains
// want.
type watchBuffer struct {
	syncBuffer
	want string
	seen chan struct{}
	once sync.Once
}

func (b *watchBuffer) Write(p []byte) (int, error) {
	n, err := b.syncBuffer.Write(p)
	if strings.Contains(b.String(), b.want) {
		b.once.Do(func() { close(b.seen) })
	}
	return n, err
}
