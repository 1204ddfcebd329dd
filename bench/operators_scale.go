package main

import (
	"bytes"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The figures `make bench-scale` compares across N (1,000, 100,000 and
// 1,000,000 users): reads by id, pages at fixed positions repeated, and
// sign-ins, on top of the operators mode's walk, finds and export.

// ScaleResult is what measureScale adds to an operators run.
type ScaleResult struct {
	GetByID     *Probe `json:"get_by_id"`            // GET /users/{id} of random users, one at a time
	GetByIDConc *Run   `json:"get_by_id_concurrent"` // the same at -conns connections, max rate
	FirstPage   *Probe `json:"first_page"`           // the first page, repeated
	MiddlePage  *Probe `json:"middle_page"`          // the page halfway through, by its cursor, repeated
	LastPage    *Probe `json:"last_page"`            // the last page, by its cursor, repeated
	Login       *Probe `json:"login"`                // POST /login as random imported users (one argon2id each)
}

// Repetitions of the scale probes.
const (
	scaleGets  = 500
	scalePages = 50
	scaleLogin = 10
)

func (o *ops) measureScale() error {
	e := o.e
	if len(o.ids) == 0 || len(o.cursors) == 0 {
		return fmt.Errorf("scale probes: the list walk found no users")
	}
	res := &ScaleResult{}
	o.res.Scale = res
	client := newClient(1, e.clientTLS)
	defer client.Transport.(*http.Transport).CloseIdleConnections()
	base := e.backendURL()
	rnd := mrand.New(mrand.NewPCG(17, 17))
	repeat := func(name string, n int, one func() error) *Probe {
		pr := &Probe{Query: name}
		var d []time.Duration
		for range n {
			t0 := time.Now()
			if err := one(); err != nil {
				o.unexpected("%s: %v", name, err)
				break
			}
			d = append(d, time.Since(t0))
		}
		pr.N = len(d)
		pr.P50Ms, pr.P99Ms, pr.MaxMs = quantiles(d)
		return pr
	}
	get := func(u string, want []byte) error {
		code, body, err := fetch(client, http.MethodGet, u, nil, nil)
		if err == nil && (code != http.StatusOK || !bytes.Contains(body, want)) {
			err = fmt.Errorf("GET %s: %d %.200s", u, code, body)
		}
		return err
	}
	res.GetByID = repeat("GET /users/{id}", scaleGets, func() error {
		id := o.ids[rnd.IntN(len(o.ids))]
		return get(base+"/users/"+id, []byte(`"id":"`+id+`"`))
	})
	res.GetByID.Answer = "200, the user"
	page := func(name, cursor string) *Probe {
		u := fmt.Sprintf("%s/users?limit=%d", base, listLimit)
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		pr := repeat(name, scalePages, func() error { return get(u, []byte(`"users":[`)) })
		pr.Answer = "200, a page"
		return pr
	}
	res.FirstPage = page("first page", "")
	res.MiddlePage = page("middle page", o.cursors[len(o.cursors)/2])
	res.LastPage = page("last page", o.cursors[len(o.cursors)-1])
	pub := newClient(1, nil)
	defer pub.Transport.(*http.Transport).CloseIdleConnections()
	res.Login = repeat("POST /login", scaleLogin, func() error {
		email := o.emails[rnd.IntN(len(o.emails))]
		body := fmt.Appendf(nil, `{"email":%q,"password":%q}`, email, benchPassword)
		code, b, err := retryBusy(pub, http.MethodPost, e.publicURL()+"/login", e.publicHeader(), body)
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("login as %s: %d %.200s", email, code, b)
		}
		return err
	})
	res.Login.Answer = "200, a token"
	if o.cfg.ConcDur > 0 && o.cfg.Conns > 0 {
		var mu sync.Mutex
		pick := func() string { mu.Lock(); defer mu.Unlock(); return o.ids[rnd.IntN(len(o.ids))] }
		res.GetByIDConc = runFixed(attackSpec{name: "get-by-id", conns: o.cfg.Conns, capped: true, dur: o.cfg.ConcDur,
			warmup: min(time.Second, o.cfg.ConcDur/5), tls: e.clientTLS, target: func(t *vegeta.Target) error {
				t.Method, t.URL = http.MethodGet, base+"/users/"+pick()
				return nil
			}}, "scenario", e.usher.pid(), http.StatusOK)
		if r := res.GetByIDConc; r.errorCount() > 0 || r.OK == 0 {
			o.unexpected("concurrent get-by-id: %d answered 200, others %s %v", r.OK, errorString(r.Errors), r.ErrorSamples)
		}
	}
	e.logf("GET by id p50 %.2f ms, p99 %.2f ms; pages p99 first %.2f, middle %.2f, last %.2f ms; login p50 %.1f ms",
		res.GetByID.P50Ms, res.GetByID.P99Ms, res.FirstPage.P99Ms, res.MiddlePage.P99Ms, res.LastPage.P99Ms, res.Login.P50Ms)
	return nil
}
