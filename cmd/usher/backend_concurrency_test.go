package main

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
)

// raceResult is one response of a concurrent burst.
type raceResult struct {
	response
	err error
}

// burst sends every request at once (each goroutine waits on one gate, so
// they start together) and returns the responses in request order.
func burst(be *backendClient, reqs []*http.Request) []raceResult {
	out := make([]raceResult, len(reqs))
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i, req := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			r := &out[i]
			r.response, r.err = send(be.http, req)
		}()
	}
	close(gate)
	wg.Wait()
	return out
}

// checkRace checks a burst: exactly one request won with status win, every
// other one got 409 email_taken, none failed or got another status. It
// returns the index of the winner.
func checkRace(t *testing.T, res []raceResult, win int) int {
	t.Helper()
	winner, counts := -1, map[int]int{}
	for i, r := range res {
		if r.err != nil {
			t.Errorf("request %d: %v", i, r.err)
			continue
		}
		checkCommon(t, fmt.Sprintf("request %d", i), r.response)
		counts[r.Status]++
		switch r.Status {
		case win:
			winner = i
		case http.StatusConflict:
			if got := errorCode(t, r.Body); got != "email_taken" {
				t.Errorf("request %d: error code: got %q, want %q", i, got, "email_taken")
			}
		}
	}
	want := map[int]int{win: 1, http.StatusConflict: len(res) - 1}
	if !maps.Equal(counts, want) {
		t.Errorf("statuses: got %v, want %v", counts, want)
	}
	return winner
}

// raceVariants are spellings of one address that must all be one account.
var raceVariants = []string{
	"Race@Example.com", "race@example.com", "RACE@EXAMPLE.COM", "rAcE@eXaMpLe.CoM", " race@Example.COM ",
}

func TestBackendConcurrentCreateOneEmail(t *testing.T) {
	s := startServer(t)
	be := s.BackendAPI
	reqs := make([]*http.Request, 50)
	for i := range reqs {
		body := mustJSON(t, map[string]string{"email": raceVariants[i%len(raceVariants)], "password": "lantern-tabby-41"})
		reqs[i] = be.request(t, "POST", "/users/", body)
	}
	res := burst(be, reqs)
	winner := checkRace(t, res, http.StatusCreated)
	if got := s.userCount(t); got != 1 {
		t.Errorf("users: got %d, want 1", got)
	}
	if winner < 0 {
		return
	}
	u := be.get(t, res[winner].Header.Get("X-Object-ID"))
	if want := strings.TrimSpace(raceVariants[winner%len(raceVariants)]); u.Email != want {
		t.Errorf("stored email: got %q, want the winner's %q", u.Email, want)
	}
	if !be.checkpw(t, u.ID, "lantern-tabby-41") {
		t.Errorf("the winner's password: got false, want true")
	}
}

func TestBackendConcurrentEmailChangeToOneAddress(t *testing.T) {
	s := startServer(t)
	be := s.BackendAPI
	ids := make([]string, 50)
	reqs := make([]*http.Request, len(ids))
	for i := range ids {
		ids[i] = be.newUser(t, fmt.Sprintf("mover%d@example.com", i), "lantern-tabby-41")
		body := mustJSON(t, map[string]string{"email": raceVariants[i%len(raceVariants)]})
		reqs[i] = be.request(t, "PUT", "/users/"+ids[i]+"/email", body)
	}
	res := burst(be, reqs)
	winner := checkRace(t, res, http.StatusNoContent)
	if got := s.userCount(t); got != len(ids) {
		t.Errorf("users: got %d, want %d", got, len(ids))
	}
	var holders []string
	for i, id := range ids {
		u := be.get(t, id)
		if strings.EqualFold(strings.TrimSpace(u.Email), "race@example.com") {
			holders = append(holders, id)
		} else if want := fmt.Sprintf("mover%d@example.com", i); u.Email != want {
			t.Errorf("user %d: email: got %q, want %q", i, u.Email, want)
		}
	}
	if winner >= 0 && !slices.Equal(holders, []string{ids[winner]}) {
		t.Errorf("holders of the address: got %q, want only the winner %q", holders, ids[winner])
	}
}
