package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// benchPassword is every bench user's password: a passphrase no list of
// common passwords holds.
const benchPassword = "Umber-Falcon-Quilt-4817-lantern"

// scenario is one kind of request the harness measures.
type scenario struct {
	name   string
	about  string
	server serverKind // the Usher configuration it needs
	status int        // the success status; any other answer is an error
	tls    bool       // on the backend listener (mutual TLS)
	hash   bool       // costs a password hash per request
	yards  []yardTarget
	target func(e *env) vegeta.Targeter
	check  func(body []byte) error // on the preflight answer's body
	floor  string                  // the login floor's write mode: the scenario runs on it, not on Usher
}

// yardTarget names a yardstick to compare with and the minimum ratio set
// as a target (0: compared, no target).
type yardTarget struct {
	kind string
	min  float64
}

// scenarios in the order they run at each concurrency level: the ones
// bound by hashing, then the backend (mutual TLS), then the plain ones, the
// one needing another Usher configuration last.
var scenarios = []*scenario{
	{name: "register", about: "public POST /register (a new user each time)", status: 200, hash: true,
		yards: []yardTarget{{yardArgon2, 0.95}}, target: (*env).registerTargeter, check: isJWTString},
	{name: "login", about: "public POST /login", status: 200, hash: true,
		yards: []yardTarget{{yardArgon2, 0.95}}, target: (*env).loginTargeter, check: isJWTString},
	{name: "checkpw", about: "backend POST /users/{id}/checkpw over mTLS", status: 200, tls: true, hash: true,
		yards: []yardTarget{{yardArgon2, 0.95}}, target: (*env).checkpwTargeter, check: contains(`"result":true`)},
	{name: "thunder-get", about: "Thunder GET /users?email= with the password header (a hash per call)", status: 200, hash: true,
		yards: []yardTarget{{yardArgon2, 0.95}}, target: thunderTargeter(true), check: contains(`"email"`)},
	{name: "backend-get", about: "backend GET /users/{id} over mTLS", status: 200, tls: true,
		yards: []yardTarget{{yardBareMTLS, 0.5}, {yardBarePlain, 0.4}}, target: (*env).backendGetTargeter, check: contains(`"id"`)},
	{name: "backend-put-data", about: "backend PUT /users/{id}/data over mTLS (a database write)", status: 204, tls: true,
		yards: []yardTarget{{yardBareMTLS, 0}}, target: (*env).putDataTargeter},
	{name: "me", about: "public GET /me with a bearer token", status: 200,
		yards: []yardTarget{{yardBarePlain, 0.45}}, target: (*env).meTargeter, check: contains(`"userId"`)},
	{name: "thunder-get-nocheck", about: "Thunder GET /users?email= on --no-thunder-header-check (no hash)", status: 200,
		server: usherNoHeaderCheck, yards: []yardTarget{{yardBarePlain, 0}}, target: thunderTargeter(false), check: contains(`"email"`)},
}

// floorScenarios are the login floor's (floor.go), one per write mode: run
// only when named in -scenarios, each compared with argon2id as login is.
var floorScenarios = func() []*scenario {
	var out []*scenario
	for _, mode := range floorModes {
		out = append(out, &scenario{name: "login-floor-" + mode, floor: mode, status: 200,
			about: "the login floor (no Usher), session write " + mode,
			yards: []yardTarget{{yardArgon2, 0}}, target: floorTargeter(mode), check: isJWTString})
	}
	return out
}()

func init() {
	for _, s := range scenarios {
		if s.server == "" {
			s.server = usherDefault
		}
	}
}

// allScenarios is every scenario: the default set, then the login floor's.
func allScenarios() []*scenario { return slices.Concat(scenarios, floorScenarios) }

// scenarioNamed returns the scenario called name, or nil.
func scenarioNamed(name string) *scenario {
	for _, s := range allScenarios() {
		if s.name == name {
			return s
		}
	}
	return nil
}

func contains(sub string) func([]byte) error {
	return func(b []byte) error {
		if !bytes.Contains(b, []byte(sub)) {
			return fmt.Errorf("body %.200q lacks %s", b, sub)
		}
		return nil
	}
}

func isJWTString(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) != nil || bytes.Count([]byte(s), []byte(".")) != 2 {
		return fmt.Errorf("body %.200q is not a JSON string holding a JWT", b)
	}
	return nil
}

// seedUser is a user created before the runs.
type seedUser struct {
	ID    string
	Email string
}

func seedEmail(i int) string { return fmt.Sprintf("seed-%d@bench.example.com", i) }

var jsonHeader = http.Header{"Content-Type": []string{"application/json"}}

func (e *env) backendURL() string { return "https://" + e.usher.addrs["backend"] }
func (e *env) publicURL() string  { return "http://" + e.usher.addrs["public"] }
func (e *env) thunderURL() string { return "http://" + e.usher.addrs["thunder"] }

func (e *env) publicHeader(extra ...string) http.Header {
	h := http.Header{"Sb-Public-Key": []string{e.usher.publicKey}, "Content-Type": []string{"application/json"}}
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	return h
}

// cycle returns a function handing out 0, 1, ... n-1, 0, ... safely from
// many goroutines.
func cycle(n int) func() int {
	var c atomic.Uint64
	return func() int { return int((c.Add(1) - 1) % uint64(n)) }
}

func (e *env) registerTargeter() vegeta.Targeter {
	u, h := e.publicURL()+"/register", e.publicHeader()
	return func(t *vegeta.Target) error {
		n := e.registered.Add(1)
		t.Method, t.URL, t.Header = http.MethodPost, u, h
		t.Body = fmt.Appendf(nil, `{"email":"reg-%d@bench.example.com","password":%q}`, n, benchPassword)
		return nil
	}
}

func (e *env) loginTargeter() vegeta.Targeter {
	u, h, next := e.publicURL()+"/login", e.publicHeader(), cycle(len(e.users))
	return func(t *vegeta.Target) error {
		t.Method, t.URL, t.Header = http.MethodPost, u, h
		t.Body = fmt.Appendf(nil, `{"email":%q,"password":%q}`, e.users[next()].Email, benchPassword)
		return nil
	}
}

func (e *env) checkpwTargeter() vegeta.Targeter {
	base, next := e.backendURL()+"/users/", cycle(len(e.users))
	body := fmt.Appendf(nil, `{"password":%q}`, benchPassword)
	return func(t *vegeta.Target) error {
		t.Method, t.URL, t.Header, t.Body = http.MethodPost, base+e.users[next()].ID+"/checkpw", jsonHeader, body
		return nil
	}
}

func (e *env) backendGetTargeter() vegeta.Targeter {
	base, next := e.backendURL()+"/users/", cycle(len(e.users))
	return func(t *vegeta.Target) error {
		t.Method, t.URL = http.MethodGet, base+e.users[next()].ID
		return nil
	}
}

func (e *env) putDataTargeter() vegeta.Targeter {
	base, next := e.backendURL()+"/users/", cycle(len(e.users))
	return func(t *vegeta.Target) error {
		i := next()
		t.Method, t.URL, t.Header = http.MethodPut, base+e.users[i].ID+"/data", jsonHeader
		t.Body = fmt.Appendf(nil, `{"plan":"team","seats":%d}`, i%50+1)
		return nil
	}
}

func (e *env) meTargeter() vegeta.Targeter {
	u, next := e.publicURL()+"/me", cycle(len(e.tokens))
	headers := make([]http.Header, len(e.tokens))
	for i, tok := range e.tokens {
		headers[i] = http.Header{"Sb-Public-Key": []string{e.usher.publicKey}, "Authorization": []string{"Bearer " + tok}}
	}
	return func(t *vegeta.Target) error {
		t.Method, t.URL, t.Header = http.MethodGet, u, headers[next()]
		return nil
	}
}

// thunderTargeter reads users on the Thunder surface, with the password
// header or without it.
func thunderTargeter(withPassword bool) func(e *env) vegeta.Targeter {
	return func(e *env) vegeta.Targeter {
		h := http.Header{"Authorization": []string{"Basic " + base64.StdEncoding.EncodeToString([]byte(thunderApp+":"+thunderSecret))}}
		if withPassword {
			h.Set("password", benchPassword)
		}
		base, next := e.thunderURL()+"/users?email=", cycle(len(e.users))
		return func(t *vegeta.Target) error {
			t.Method, t.URL, t.Header = http.MethodGet, base+url.QueryEscape(e.users[next()].Email), h
			return nil
		}
	}
}

// floorTargeter sends login's requests to the login floor of that mode.
func floorTargeter(mode string) func(e *env) vegeta.Targeter {
	return func(e *env) vegeta.Targeter {
		u, next := "http://"+e.floors[mode].addrs["plain"]+"/login", cycle(len(e.users))
		return func(t *vegeta.Target) error {
			t.Method, t.URL, t.Header = http.MethodPost, u, jsonHeader
			t.Body = fmt.Appendf(nil, `{"email":%q,"password":%q}`, e.users[next()].Email, benchPassword)
			return nil
		}
	}
}

// bareTargeter sends the backend GET's requests to the bare server.
func (e *env) bareTargeter(kind string) vegeta.Targeter {
	base := "http://" + e.bare.addrs["plain"] + "/users/"
	if kind == yardBareMTLS {
		base = "https://" + e.bare.addrs["mtls"] + "/users/"
	}
	next := cycle(len(e.users))
	return func(t *vegeta.Target) error {
		t.Method, t.URL = http.MethodGet, base+e.users[next()].ID
		return nil
	}
}

// preflight sends one request of the scenario and checks its answer, so a
// broken scenario is reported as such instead of as a flood of errors.
func (e *env) preflight(s *scenario, tr vegeta.Targeter) error {
	var t vegeta.Target
	if err := tr(&t); err != nil {
		return err
	}
	tc := e.clientTLS
	if !s.tls {
		tc = nil
	}
	client := newClient(1, tc)
	defer client.Transport.(*http.Transport).CloseIdleConnections()
	code, body, err := fetch(client, t.Method, t.URL, t.Header, t.Body)
	if err != nil {
		return fmt.Errorf("preflight %s %s: %w", t.Method, t.URL, err)
	}
	if code != s.status {
		return fmt.Errorf("preflight %s %s: got status %d, want %d: %.300s", t.Method, t.URL, code, s.status, body)
	}
	if s.check != nil {
		if err := s.check(body); err != nil {
			return fmt.Errorf("preflight %s %s: %w", t.Method, t.URL, err)
		}
	}
	return nil
}

// parallel runs fn(0..n-1) on workers goroutines and returns the first error.
func parallel(n, workers int, fn func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// retryBusy sends a request until it gets an answer other than 503 (the
// hashing pool may be full while seeding), up to a limit.
func retryBusy(client *http.Client, method, u string, h http.Header, body []byte) (int, []byte, error) {
	for try := 0; ; try++ {
		code, b, err := fetch(client, method, u, h, body)
		if err != nil || code != http.StatusServiceUnavailable || try == 50 {
			return code, b, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// hashWorkers is how many requests that hash the harness keeps in flight
// while preparing: enough to keep Usher's pool busy, never enough to fill
// its queue.
func hashWorkers() int { return 2 * runtime.GOMAXPROCS(0) }

// seedUsers creates n users on the backend surface.
func (e *env) seedUsers(n int) error {
	client := newClient(0, e.clientTLS)
	defer client.Transport.(*http.Transport).CloseIdleConnections()
	users := make([]seedUser, n)
	err := parallel(n, hashWorkers(), func(i int) error {
		body := fmt.Appendf(nil, `{"email":%q,"password":%q,"data":{"plan":"pro"}}`, seedEmail(i), benchPassword)
		code, b, err := retryBusy(client, http.MethodPost, e.backendURL()+"/users", jsonHeader, body)
		if err != nil {
			return err
		}
		if code != http.StatusCreated {
			return fmt.Errorf("seeding: POST /users got %d: %.300s", code, b)
		}
		var u struct{ ID string }
		if err := json.Unmarshal(b, &u); err != nil || u.ID == "" {
			return fmt.Errorf("seeding: POST /users answered %.300s", b)
		}
		users[i] = seedUser{ID: u.ID, Email: seedEmail(i)}
		return nil
	})
	if err != nil {
		return err
	}
	e.users = users
	return nil
}

// loginTokens logs the first n seeded users in and keeps their tokens.
func (e *env) loginTokens(n int) error {
	n = min(n, len(e.users))
	if n == 0 {
		return errors.New("no users to log in")
	}
	client := newClient(0, nil)
	defer client.Transport.(*http.Transport).CloseIdleConnections()
	tokens := make([]string, n)
	err := parallel(n, hashWorkers(), func(i int) error {
		body := fmt.Appendf(nil, `{"email":%q,"password":%q}`, e.users[i].Email, benchPassword)
		code, b, err := retryBusy(client, http.MethodPost, e.publicURL()+"/login", e.publicHeader(), body)
		if err != nil {
			return err
		}
		if code != http.StatusOK || json.Unmarshal(b, &tokens[i]) != nil {
			return fmt.Errorf("login of %s got %d: %.300s", e.users[i].Email, code, b)
		}
		return nil
	})
	if err != nil {
		return err
	}
	e.tokens = tokens
	return nil
}
