package thunder_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api/thunder"
	"github.com/usherhq/usher/internal/api/thunderadmin"
)

// The password of these tests: a capital first letter, lower case, digits.
const mistakenPw = "Sunflower-Field-42"

func withMistakes(c *thunder.Config) { c.CommonMistakes = true }

func withMistaken(t *testing.T, e *env) {
	withSam(func(in *account.NewUser) { in.Password = mistakenPw })(t, e)
}

// TestCommonMistakes covers each mistake Thunder's allowCommonMistakes
// forgives, on and off, and what it still refuses.
func TestCommonMistakes(t *testing.T) {
	cases := []struct {
		name, header string
		forgiven     bool // accepted with the setting on
	}{
		{"exact", mistakenPw, true},
		{"caps lock on", "sUNFLOWER-fIELD-42", true},
		{"an extra character in front", "x" + mistakenPw, true},
		{"an extra character at the end", mistakenPw + "!", true},
		{"the first letter's case", "sunflower-Field-42", true},
		{"a multi-byte extra character in front", "é" + mistakenPw, true},
		{"two extra characters", "xx" + mistakenPw, false},
		{"one character missing", mistakenPw[1:], false},
		{"caps lock and an extra character", "xsUNFLOWER-fIELD-42", false},
		{"a middle letter's case", "SunFlower-Field-42", false},
		{"everything lower case", "sunflower-field-42", false},
	}
	var tests []scenario
	for _, tc := range cases {
		for _, on := range []bool{true, false} {
			sc := scenario{
				setup: withMistaken, method: "GET", path: "/users?email=sam@example.com",
				header: with(auth, "password", tc.header),
			}
			if on {
				sc.name, sc.cfg = tc.name+", mistakes allowed", withMistakes
			} else {
				sc.name = tc.name + ", mistakes refused"
			}
			if (on && tc.forgiven) || tc.header == mistakenPw {
				sc.status, sc.wantJSON = http.StatusOK, tuser("sam@example.com", false, false, `,"plan":"pro"`)
			} else {
				sc.status, sc.wantText = http.StatusUnauthorized, "Unable to validate user with provided credentials. (User: sam@example.com)"
			}
			tests = append(tests, sc)
		}
	}
	run(t, tests)
}

// TestCommonMistakesKeepThePassword: an update whose header was a
// forgiven mistake and whose body sends that same mistake back keeps the
// real password; the mistaken one does not become it.
func TestCommonMistakesKeepThePassword(t *testing.T) {
	mistake := "x" + mistakenPw
	run(t, []scenario{{
		name: "update with a mistaken header", cfg: withMistakes, setup: withMistaken,
		method: "PUT", path: "/users?email=sam@example.com", header: with(auth, "password", mistake),
		body:   `{"email":{"address":"sam@example.com"},"password":"` + mistake + `","plan":"team"}`,
		status: http.StatusOK, wantJSON: tuser("sam@example.com", false, false, `,"plan":"team"`),
		after: func(t *testing.T, e *env, _ *httptest.ResponseRecorder) {
			wantUser("sam@example.com", mistakenPw, true)(t, e, nil)
		},
	}})
}

func TestEmailOff(t *testing.T) {
	noEmail := func(c *thunder.Config) { c.NoEmail = true }
	notFound := `{"code":404,"message":"HTTP 404 Not Found"}`
	var tests []scenario
	for _, rt := range []struct{ method, path string }{
		{"POST", "/verify?email=sam@example.com"}, {"POST", "/verify/reset?email=sam@example.com"},
		{"GET", "/verify?email=sam@example.com&token=x"}, {"GET", "/verify/success"},
	} {
		tests = append(tests, scenario{
			name: rt.method + " " + rt.path, cfg: noEmail, setup: withSam(nil), method: rt.method, path: rt.path, header: withPw,
			status: http.StatusNotFound, wantJSON: notFound,
		})
	}
	tests = append(tests, scenario{
		name: "users still served", cfg: noEmail, setup: withSam(nil), method: "GET", path: "/users?email=sam@example.com", header: withPw,
		status: http.StatusOK, wantJSON: tuser("sam@example.com", false, false, `,"plan":"pro"`),
	})
	run(t, tests)
}

func TestSuccessPage(t *testing.T) {
	page := "<html><body>Welcome aboard</body></html>"
	run(t, []scenario{{
		name: "configured page", cfg: func(c *thunder.Config) { c.SuccessPage = []byte(page) }, method: "GET", path: "/verify/success",
		status: http.StatusOK, wantHeader: map[string]string{"Content-Type": "text/html; charset=utf-8"},
		after: func(t *testing.T, _ *env, rec *httptest.ResponseRecorder) {
			if rec.Body.String() != page {
				t.Errorf("body %q, want the configured page", rec.Body)
			}
		},
	}})
}

// TestMeters marks each of Thunder's meters once its call is admitted: a
// call refused by authentication is not metered, one that fails later is.
func TestMeters(t *testing.T) {
	meters, counters, timers := thunder.Metrics(thunder.Config{})
	reg := thunderadmin.NewRegistry(nil, meters, counters, timers)
	e := newEnv(t, func(c *thunder.Config) { c.Recorder = reg }, false)
	calls := []struct{ method, path, body string }{
		{"POST", "/users", sam},
		{"GET", "/users?email=sam@example.com", ""},
		{"PUT", "/users?email=sam@example.com", sam},
		{"POST", "/verify?email=sam@example.com", ""},
		{"POST", "/verify/reset?email=sam@example.com", ""},
		{"GET", "/verify?email=sam@example.com&token=wrong", ""},
		{"GET", "/verify/success", ""},
		{"DELETE", "/users?email=sam@example.com", ""},
		{"GET", "/users?email=nobody@example.com", ""}, // 404, still metered
	}
	for _, c := range calls {
		e.do(t, c.method, c.path, withPw, c.body)
	}
	e.do(t, "GET", "/users?email=sam@example.com", with(withPw, "Authorization", basic("app", "wrong")), "")
	e.do(t, "GET", "/users?email=sam@example.com", with(withPw, "Authorization", ""), "")
	want := map[string]int64{
		thunder.MeterCreate: 1, thunder.MeterGet: 2, thunder.MeterUpdate: 1, thunder.MeterDelete: 1,
		thunder.MeterSendEmail: 1, thunder.MeterResetVerification: 1, thunder.MeterVerifyEmail: 1,
	}
	got := reg.Meters()
	for name, n := range want {
		if got[name] != n {
			t.Errorf("meter %s = %d, want %d", name, got[name], n)
		}
	}
	// Every call but the one without credentials presented credentials.
	c := reg.Counters()
	if c[thunder.CounterBasicSuccess] != 7 || c[thunder.CounterBasicFailure] != 1 {
		t.Errorf("basic counters %v, want 7 successes (the open routes check none) and 1 failure", c)
	}
}

func TestMetricsListedByConfig(t *testing.T) {
	m, c, tm := thunder.Metrics(thunder.Config{NoEmail: true, OAuth: oauthVerifier{}})
	if len(m) != 4 || len(c) != 2 || c[0] != thunder.CounterJWTSuccess || len(tm) != 1 || tm[0] != thunder.TimerJWT {
		t.Errorf("oauth without email: %v %v %v", m, c, tm)
	}
	m, c, _ = thunder.Metrics(thunder.Config{})
	if len(m) != 7 || len(c) != 4 {
		t.Errorf("basic with email: %v %v", m, c)
	}
}

type oauthVerifier struct{}

func (oauthVerifier) Verify(string) (string, error) { return "", nil }
