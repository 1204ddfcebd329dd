package main

// The Thunder admin listener's health checks against real failures: the
// database cut off, the SMTP server gone and back.

import (
	"encoding/json"
	"os"
	"testing"
	"time"
)

// withThunderAdmin turns the Thunder listener and its admin listener on.
func withThunderAdmin(m *Main) {
	withThunder(m)
	m.Config.ThunderAdminAddr = "127.0.0.1:0"
}

// health reads /healthcheck: its status and each check's verdict.
func health(t *testing.T, s *testServer) (int, map[string]bool) {
	t.Helper()
	code, _, body := thunderCall(t, "GET", "http://"+s.ThunderAdminAddr()+"/healthcheck", "", "", "")
	var res map[string]struct {
		Healthy bool   `json:"healthy"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatalf("/healthcheck: %d %s", code, body)
	}
	out := map[string]bool{}
	for name, r := range res {
		out[name] = r.Healthy
		if !r.Healthy && r.Message == "" {
			t.Errorf("%s unhealthy without a message", name)
		}
	}
	return code, out
}

func TestThunderAdminDatabaseDown(t *testing.T) {
	var cut func() (restore func())
	var edits []func(*Main)
	if os.Getenv("USHER_TEST_ENGINE") == "postgres" {
		var proxy *dbProxy
		edits = append(edits, func(m *Main) { proxy = proxyDB(t, m) })
		cut = func() func() { proxy.Cut(); return proxy.Heal }
	}
	edits = append(edits, withThunderAdmin, func(m *Main) { m.Config.DBTimeout = 500 * time.Millisecond })
	s := startServer(t, edits...)
	if cut == nil {
		// SQLite has no server to lose: the writer pool the check pings is
		// closed instead (Close at the end tolerates it).
		cut = func() func() { _ = s.Store.DB().Close(); return nil }
	}
	if code, h := health(t, s); code != 200 || !h["Database"] || !h["Email"] || !h["deadlocks"] {
		t.Fatalf("before: %d %v", code, h)
	}
	restore := cut()
	if code, h := health(t, s); code != 500 || h["Database"] || !h["deadlocks"] {
		t.Errorf("database down: %d %v, want 500 with Database unhealthy", code, h)
	}
	if restore == nil {
		return
	}
	restore()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, h := health(t, s)
		if code == 200 && h["Database"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("database back: %d %v", code, h)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestThunderAdminEmailCheckAndCounters(t *testing.T) {
	sink := startSMTPSink(t)
	s := startServer(t, withThunderAdmin, sink.Configure)
	admin := "http://" + s.ThunderAdminAddr()
	s.ThunderAPI.create(t, "mail@example.com", userPassword, nil)
	sink.Stop()
	s.ThunderAPI.sendVerification(t, "mail@example.com", userPassword)
	m := waitMetrics(t, admin, func(m dropwizardMetrics) bool {
		return m.Counters["com.sanctionco.thunder.email.EmailService.email-send-failure"].Count >= 1
	})
	if got := m.Counters["com.sanctionco.thunder.email.EmailService.email-send-failure"].Count; got < 1 {
		t.Fatalf("failure counter %d after a failed send", got)
	}
	if code, h := health(t, s); code != 500 || h["Email"] || !h["Database"] {
		t.Errorf("SMTP down: %d %v, want 500 with Email unhealthy", code, h)
	}
	sink.Restart()
	sink.waitMessages(t, "mail@example.com", "", 1)
	m = waitMetrics(t, admin, func(m dropwizardMetrics) bool {
		return m.Counters["com.sanctionco.thunder.email.EmailService.email-send-success"].Count == 1
	})
	if got := m.Counters["com.sanctionco.thunder.email.EmailService.email-send-success"].Count; got != 1 {
		t.Errorf("success counter %d after the retry", got)
	}
	if code, h := health(t, s); code != 200 || !h["Email"] {
		t.Errorf("SMTP back: %d %v", code, h)
	}
}
