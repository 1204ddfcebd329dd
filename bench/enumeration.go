package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"
)

// EnumerationResult compares, request by request, the answers Usher gives
// for an address it knows and one it does not, where the contract says they
// must not differ: a failed login (unknown email against a wrong password)
// and a reset request (known against unknown address).
type EnumerationResult struct {
	N                   int     `json:"n"`
	LoginUnknownMedian  float64 `json:"login_unknown_median_ms"`
	LoginWrongMedian    float64 `json:"login_wrong_password_median_ms"`
	LoginMedianDiff     float64 `json:"login_median_diff_ms"` // wrong password − unknown
	SendN               int     `json:"send_n"`
	SendKnownMedian     float64 `json:"send_known_median_ms"`
	SendUnknownMedian   float64 `json:"send_unknown_median_ms"`
	SendMedianDiff      float64 `json:"send_median_diff_ms"` // known − unknown
	AnswersIdentical    bool    `json:"answers_identical"`   // status and body, on every pair
	FirstDifferenceSeen string  `json:"first_difference,omitempty"`
}

// measureEnumeration sends the pairs one request at a time (so no queue
// stands between a request and its answer), alternating which of the two
// goes first, and reports the medians and their difference.
func (e *env) measureEnumeration() error {
	if err := e.ensureUsher(usherDefault); err != nil {
		return err
	}
	n, sendN := 40, 200
	if e.cfg.Smoke {
		n, sendN = 6, 20
	}
	n = min(n, len(e.users))
	client := newClient(1, e.clientTLS)
	defer client.Transport.(*http.Transport).CloseIdleConnections()
	res := &EnumerationResult{N: n, SendN: sendN, AnswersIdentical: true}

	post := func(path, body string) (time.Duration, string, error) {
		req, err := http.NewRequest(http.MethodPost, e.publicURL()+path, bytes.NewBufferString(body))
		if err != nil {
			return 0, "", err
		}
		req.Header = e.publicHeader()
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		return time.Since(start), fmt.Sprintf("%d %s", resp.StatusCode, b), err
	}
	// pair runs a and b in an order that alternates with i, and records a
	// difference in their answers.
	pair := func(i int, a, b func() (time.Duration, string, error)) (da, db time.Duration, err error) {
		var sa, sb string
		if i%2 == 0 {
			if da, sa, err = a(); err == nil {
				db, sb, err = b()
			}
		} else {
			if db, sb, err = b(); err == nil {
				da, sa, err = a()
			}
		}
		if err == nil && sa != sb && res.AnswersIdentical {
			res.AnswersIdentical, res.FirstDifferenceSeen = false, fmt.Sprintf("%q vs %q", sa, sb)
		}
		return da, db, err
	}

	var unknown, wrong []time.Duration
	for i := range n {
		du, dw, err := pair(i,
			func() (time.Duration, string, error) {
				return post("/login", fmt.Sprintf(`{"email":"nobody-%s@bench.example.com","password":"not the password"}`, rand.Text()))
			},
			func() (time.Duration, string, error) {
				return post("/login", fmt.Sprintf(`{"email":%q,"password":"not the password"}`, e.users[i].Email))
			})
		if err != nil {
			return err
		}
		unknown, wrong = append(unknown, du), append(wrong, dw)
	}
	var known, absent []time.Duration
	for i := range sendN {
		// Each known address is asked at most a few times, under the
		// per-address limit of reset emails.
		dk, da, err := pair(i,
			func() (time.Duration, string, error) {
				return post("/password/send", fmt.Sprintf(`{"email":%q}`, e.users[(n+i)%len(e.users)].Email))
			},
			func() (time.Duration, string, error) {
				return post("/password/send", fmt.Sprintf(`{"email":"nobody-%s@bench.example.com"}`, rand.Text()))
			})
		if err != nil {
			return err
		}
		known, absent = append(known, dk), append(absent, da)
	}
	res.LoginUnknownMedian, res.LoginWrongMedian = medianMs(unknown), medianMs(wrong)
	res.LoginMedianDiff = res.LoginWrongMedian - res.LoginUnknownMedian
	res.SendKnownMedian, res.SendUnknownMedian = medianMs(known), medianMs(absent)
	res.SendMedianDiff = res.SendKnownMedian - res.SendUnknownMedian
	e.report.Enumeration = res
	e.logf("enumeration: login unknown %.2f ms, wrong password %.2f ms (diff %+.2f); send known %.2f ms, unknown %.2f ms (diff %+.2f); identical answers: %v",
		res.LoginUnknownMedian, res.LoginWrongMedian, res.LoginMedianDiff, res.SendKnownMedian, res.SendUnknownMedian, res.SendMedianDiff, res.AnswersIdentical)
	return nil
}

func medianMs(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[len(s)/2].Microseconds()) / 1000
}
