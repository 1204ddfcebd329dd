package main

import (
	"bufio"
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// scrape reads the backend's /metrics and returns each sample without
// labels by name.
func scrape(t *testing.T, s *testServer) (map[string]float64, []byte) {
	t.Helper()
	r, err := send(s.Client, s.BackendAPI.request(t, http.MethodGet, "/metrics", ""))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != http.StatusOK {
		t.Fatalf("GET /metrics: got %d, want 200", r.Status)
	}
	body := r.Body
	samples := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", sc.Text(), err)
		}
		samples[name] = v
	}
	return samples, body
}

// TestHashMetrics checks that the hashing pool's figures reach /metrics:
// every hash is counted and timed, and nothing secret is exposed.
func TestHashMetrics(t *testing.T) {
	s := startServer(t)
	be := s.BackendAPI
	before, _ := scrape(t, s)
	if got, want := before["usher_password_hash_workers"], float64(s.Hasher.Stats().Workers); got != want || got < 1 {
		t.Errorf("usher_password_hash_workers = %v, want %v (at least 1)", got, want)
	}
	const pw = "metrics-secret-horse-42"
	id := be.newUser(t, "metrics@example.com", pw)
	if !be.checkpw(t, id, pw) {
		t.Fatal("checkpw with the right password: got false")
	}
	if be.checkpw(t, id, pw+"x") {
		t.Fatal("checkpw with a wrong password: got true")
	}
	after, body := scrape(t, s)
	// One hash to create the user, one verification per check.
	if got := after["usher_password_hashes_total"] - before["usher_password_hashes_total"]; got != 3 {
		t.Errorf("usher_password_hashes_total grew by %v, want 3", got)
	}
	if after["usher_password_hash_seconds_total"] <= before["usher_password_hash_seconds_total"] {
		t.Errorf("usher_password_hash_seconds_total did not grow: %v then %v",
			before["usher_password_hash_seconds_total"], after["usher_password_hash_seconds_total"])
	}
	for _, name := range []string{"usher_password_hash_running", "usher_password_hash_queued", "usher_password_hash_refused_total"} {
		if got := after[name]; got != 0 {
			t.Errorf("%s = %v after the requests finished, none refused; want 0", name, got)
		}
	}
	if _, ok := after["usher_password_hash_wait_seconds_total"]; !ok {
		t.Error("usher_password_hash_wait_seconds_total is missing")
	}
	if bytes.Contains(body, []byte(pw)) || bytes.Contains(body, []byte("$argon2id$")) {
		t.Error("/metrics contains a password or a hash")
	}
}
