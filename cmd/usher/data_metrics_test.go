package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/usherhq/usher/internal/store"
)

// scrapeAll reads the backend's /metrics and returns every sample by its
// name with labels, as the text format writes it.
func scrapeAll(t *testing.T, s *testServer) (map[string]float64, []byte) {
	t.Helper()
	r, err := send(s.Client, s.BackendAPI.request(t, http.MethodGet, "/metrics", ""))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != http.StatusOK {
		t.Fatalf("GET /metrics: got %d, want 200", r.Status)
	}
	samples := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(r.Body))
	for sc.Scan() {
		line := sc.Text()
		cut := strings.LastIndexByte(line, ' ')
		if cut < 0 || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := strconv.ParseFloat(line[cut+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		samples[line[:cut]] = v
	}
	return samples, r.Body
}

// TestAccountAndOutboxMetrics checks that /metrics counts the use cases'
// events by outcome and shows the outbox and session figures, without a
// user's address, id or password.
func TestAccountAndOutboxMetrics(t *testing.T) {
	s := startServer(t)
	const email, pw = "metrics-events@example.com", "metrics-secret-horse-42"
	id := s.BackendAPI.newUser(t, email, pw)
	if r := s.PublicAPI.login(t, email, pw+"x"); r.Status != http.StatusUnauthorized {
		t.Fatalf("login with a wrong password: got %v, want 401", r)
	}
	s.PublicAPI.mustLogin(t, email, pw)
	if s.BackendAPI.checkpw(t, id, pw+"x") {
		t.Fatal("checkpw with a wrong password: got true")
	}
	if r := s.PublicAPI.passwordSend(t, email); r.Status >= 300 {
		t.Fatalf("password reset request: got %v", r)
	}

	got, body := scrapeAll(t, s)
	event := func(name, outcome string) string {
		return `usher_account_events_total{event="` + name + `",outcome="` + outcome + `"}`
	}
	for name, want := range map[string]float64{
		event("login.failed", "wrong_password"): 1,
		event("login.succeeded", "ok"):          1,
		event("check.failed", "wrong_password"): 1,
		event("user.created", "ok"):             1,
		event("reset.requested", "sent"):        1,
		event("login.failed", "unknown_email"):  0, // every count is there from the start
		event("lockout.started", "account"):     0,
		"usher_sessions_active":                 1,
		"usher_stats_errors_total":              0,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present: %v), want %v", name, v, ok, want)
		}
	}
	// The reset email is waiting, being sent or sent, by now.
	total := 0.0
	for _, status := range []string{"pending", "failed", "sent", "abandoned"} {
		v, ok := got[`usher_outbox_messages{status="`+status+`"}`]
		if !ok {
			t.Errorf("usher_outbox_messages{status=%q} is missing", status)
		}
		total += v
	}
	if total != 1 {
		t.Errorf("usher_outbox_messages add up to %v, want 1 (the reset email)", total)
	}
	if age, ok := got["usher_outbox_oldest_pending_age_seconds"]; !ok || age < 0 {
		t.Errorf("usher_outbox_oldest_pending_age_seconds = %v (present: %v), want a present age ≥ 0", age, ok)
	}
	for _, secret := range []string{email, id, pw} {
		if bytes.Contains(body, []byte(secret)) {
			t.Errorf("/metrics contains %q", secret)
		}
	}
}

// gathered gathers reg and returns each gauge and counter sample by its
// name and labels, as the text format writes them.
func gathered(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			name := f.GetName()
			if len(m.GetLabel()) > 0 {
				var labels []string
				for _, l := range m.GetLabel() {
					labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
				}
				name += "{" + strings.Join(labels, ",") + "}"
			}
			out[name] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return out
}

// TestStatsCollector: one reading serves every scrape for its ttl; a
// failed one leaves the figures out, counts the failure, and fails nothing
// else.
func TestStatsCollector(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	reads := 0
	var result store.Stats
	var readErr error
	c := newStatsCollector(func(context.Context, time.Time) (store.Stats, error) {
		reads++
		return result, readErr
	}, func() time.Time { return now }, slog.New(slog.DiscardHandler))
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)

	readErr = errors.New("database unavailable")
	got := gathered(t, reg)
	if want := map[string]float64{"usher_stats_errors_total": 1}; !maps.Equal(got, want) {
		t.Errorf("after a failed reading: got %v, want %v", got, want)
	}
	gathered(t, reg)
	if reads != 1 {
		t.Errorf("reads after two scrapes within the ttl: got %d, want 1", reads)
	}

	c.ttl = 0 // every scrape reads afresh
	readErr = nil
	result = store.Stats{Pending: 2, Failed: 1, Sent: 7, Abandoned: 3, OldestPending: now.Add(-90 * time.Second), Sessions: 42,
		HookPending: 4, HookFailed: 5, HookAbandoned: 6, HookOldestPending: now.Add(-30 * time.Second)}
	got = gathered(t, reg)
	want := map[string]float64{
		`usher_outbox_messages{status="pending"}`:      2,
		`usher_outbox_messages{status="failed"}`:       1,
		`usher_outbox_messages{status="sent"}`:         7,
		`usher_outbox_messages{status="abandoned"}`:    3,
		"usher_outbox_oldest_pending_age_seconds":      90,
		"usher_sessions_active":                        42,
		"usher_stats_errors_total":                     1,
		`usher_webhook_deliveries{status="pending"}`:   4,
		`usher_webhook_deliveries{status="failed"}`:    5,
		`usher_webhook_deliveries{status="abandoned"}`: 6,
		"usher_webhook_oldest_pending_age_seconds":     30,
	}
	if !maps.Equal(got, want) {
		t.Errorf("after a reading: got %v, want %v", got, want)
	}
	if reads != 2 {
		t.Errorf("reads: got %d, want 2", reads)
	}

	result = store.Stats{}
	if got := gathered(t, reg)["usher_outbox_oldest_pending_age_seconds"]; got != 0 {
		t.Errorf("usher_outbox_oldest_pending_age_seconds with nothing waiting: got %v, want 0", got)
	}
}
