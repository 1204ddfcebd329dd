package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/server"
)

// With admin-tls-cert the console speaks HTTPS anywhere, and its cookies
// are Secure with the __Host- prefix.
func TestConsoleListenerServesTLS(t *testing.T) {
	files, _, err := server.EnsureDevCA(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, func(m *Main) {
		m.Config.AdminTLSCert, m.Config.AdminTLSKey = files.ServerCert, files.ServerKey
	})
	c := mustClient(t, files.CA, "", "")
	res, err := c.Get("https://" + s.AdminAddr() + "/login")
	if err != nil {
		t.Fatalf("GET /login over TLS: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `action="/login"`) {
		t.Fatalf("GET /login: %d", res.StatusCode)
	}
	cookie := res.Header.Get("Set-Cookie")
	for _, want := range []string{"__Host-usher_pre=", "Secure", "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("cookie %q lacks %q", cookie, want)
		}
	}
}

// Plain HTTP off loopback is refused at start, naming the setting; the
// console can be turned off.
func TestConsoleListenerRules(t *testing.T) {
	m := &Main{Config: testConfig(t), HashParams: &cheapHash}
	m.Config.AdminAddr = "0.0.0.0:0"
	err := m.Start(context.Background())
	_ = m.Close()
	if err == nil || !strings.Contains(err.Error(), "admin-addr") {
		t.Fatalf("plain HTTP on every interface: %v, want a refusal naming admin-addr", err)
	}
	s := startServer(t, func(m *Main) { m.Config.AdminConsole = false })
	if s.AdminAddr() != "" {
		t.Fatalf("--no-admin-console: the console listens on %s", s.AdminAddr())
	}
}

// A fresh install prints the install link once; with an admin, none.
func TestConsoleInstallLinkOnlyWithoutAdmins(t *testing.T) {
	var out syncBuffer
	s := startServer(t, func(m *Main) { m.Out = &out })
	if !strings.Contains(out.String(), "http://"+s.AdminAddr()+"/install?token=") {
		t.Fatalf("no install link in:\n%s", out.String())
	}
	if _, err := s.Accounts.CreateFirstAdmin(context.Background(), "ops@example.com", "console-Secret-7731"); err != nil {
		t.Fatal(err)
	}
	data, db := s.Config.Data, s.Config.DB
	s.Stop(t)
	var again syncBuffer
	startServer(t, func(m *Main) { m.Config.Data, m.Config.DB, m.Out = data, db, &again })
	if strings.Contains(again.String(), "/install?token=") {
		t.Fatalf("an install link with an admin present:\n%s", again.String())
	}
}

// Behind a TLS proxy (admin-url https://…, the listener plain HTTP on
// loopback) the browser speaks HTTPS: cookies must be Secure with the
// __Host- prefix, or a forged http:// request would carry the session in
// clear.
func TestConsoleBehindTLSProxyCookiesSecure(t *testing.T) {
	s := startServer(t, func(m *Main) { m.Config.AdminURL = "https://console.example.com" })
	res, err := http.Get("http://" + s.AdminAddr() + "/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	cookie := res.Header.Get("Set-Cookie")
	for _, want := range []string{"__Host-usher_pre=", "Secure", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("cookie %q lacks %q", cookie, want)
		}
	}
}
