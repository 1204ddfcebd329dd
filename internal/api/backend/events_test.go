package backend_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/account/accounttest"
	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/api/apitest"
	"github.com/usherhq/usher/internal/api/backend"
	"github.com/usherhq/usher/internal/transfer"
	"github.com/usherhq/usher/internal/usher"
	"github.com/usherhq/usher/internal/webhook"
)

// newHookEnv is newEnv with webhooks set up as the server sets them up
// (setup_test.go's env leaves Config.Webhooks unset, which refuses every
// endpoint).
func newHookEnv(t *testing.T) *env {
	t.Helper()
	e := &env{pool: accounttest.NewPool(2, 64), vars: map[string]string{"{unknown}": usher.NewID(start)}}
	e.Env = accounttest.New(t, accounttest.WithFaults(&e.faults), accounttest.WithPool(e.pool), func(c *account.Config) {
		c.Lockout.Max = 10
		c.Webhooks = account.WebhookRules{
			NewSecret: webhook.NewSecret,
			CheckURL:  func(u string) error { return webhook.ValidateURL(u, false) },
		}
	})
	s := api.Surface{Name: "backend", Routes: backend.New(e.Service, &transfer.Transfer{Accounts: e.Service}, e.Tenant.ID).Routes()}
	var err error
	if e.h, err = s.Handler(slog.New(slog.DiscardHandler), nil, false); err != nil {
		t.Fatalf("building the surface: %v", err)
	}
	return e
}

// hookCase is one request to a fresh surface with webhooks set up.
type hookCase struct {
	name   string
	setup  func(t *testing.T, e *env)
	method string
	path   string
	header map[string]string
	body   string

	status   int
	wantBody string     // the exact JSON body, vars expanded; "" with check set: not compared
	wantCode usher.Code // the native error body's code
	check    func(t *testing.T, e *env, rec *httptest.ResponseRecorder)
}

func runHooks(t *testing.T, tests []hookCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newHookEnv(t)
			if tc.setup != nil {
				tc.setup(t, e)
			}
			rec := e.serve(t, scenario{method: tc.method, path: tc.path, header: tc.header, body: tc.body})
			if rec.Code != tc.status {
				t.Errorf("status: got %d, want %d (body %s)", rec.Code, tc.status, rec.Body)
			}
			if tc.wantCode != "" || tc.wantBody != "" || tc.check == nil {
				apitest.CheckNativeBody(t, rec, e.vars.Expand(tc.wantBody), tc.wantCode)
			}
			if tc.check != nil {
				tc.check(t, e, rec)
			}
		})
	}
}

// eventJSON is the wire form of an event that a use case called directly
// (no request: actor "internal", no address, no request id) wrote at the
// clock's start moved by d.
func eventJSON(id string, d time.Duration, typ, userID, detail string) string {
	user := "null"
	if userID != "" {
		user = fmt.Sprintf("%q", userID)
	}
	return fmt.Sprintf(`{"id":%q,"time":%q,"type":%q,"user_id":%s,"actor":"internal","ip":"","request_id":"","detail":%s}`,
		id, at(d), typ, user, detail)
}

// withLog writes three events a second apart: ann created ({e0}), bob
// created ({e1}), bob disabled ({e2}); {ann} and {bob} are their ids.
func withLog(t *testing.T, e *env) {
	t.Helper()
	ctx := t.Context()
	ann := e.createUser(t, account.NewUser{Email: "ann@example.com", Password: annPassword, Enabled: true})
	e.Clock.Advance(time.Second)
	bob := e.createUser(t, account.NewUser{Email: "bob@example.com", Password: annPassword, Enabled: true, Confirmed: true})
	e.Clock.Advance(time.Second)
	if err := e.Service.SetEnabled(ctx, e.Tenant.ID, bob.ID, false); err != nil {
		t.Fatalf("SetEnabled: %v", err)
	}
	es, err := e.Store.Events(ctx, usher.EventQuery{TenantID: e.Tenant.ID, Limit: 10})
	if err != nil || len(es) != 3 {
		t.Fatalf("Events: got %d, %v; want 3 events", len(es), err)
	}
	e.vars["{ann}"], e.vars["{bob}"] = ann.ID, bob.ID
	for i, ev := range es {
		e.vars[fmt.Sprintf("{e%d}", i)] = ev.ID
	}
}

var (
	e0JSON = eventJSON("{e0}", 0, "user.created", "{ann}", `{"confirmed":false,"enabled":true}`)
	e1JSON = eventJSON("{e1}", time.Second, "user.created", "{bob}", `{"confirmed":true,"enabled":true}`)
	e2JSON = eventJSON("{e2}", 2*time.Second, "user.disabled", "{bob}", `{}`)
)

// eventsBody is the body of GET /events; next is the cursor's JSON.
func eventsBody(next string, events ...string) string {
	return `{"events":[` + strings.Join(events, ",") + `],"next_cursor":` + next + `}`
}

func TestEvents(t *testing.T) {
	q := url.QueryEscape
	bad := func(name, query string) hookCase {
		return hookCase{name: name, setup: withLog, method: "GET", path: "/events?" + query, status: http.StatusBadRequest, wantCode: usher.Invalid}
	}
	runHooks(t, []hookCase{
		{name: "all", setup: withLog, method: "GET", path: "/events", status: http.StatusOK,
			wantBody: eventsBody("null", e0JSON, e1JSON, e2JSON)},
		{name: "empty", method: "GET", path: "/events", status: http.StatusOK, wantBody: eventsBody("null")},
		{name: "first page", setup: withLog, method: "GET", path: "/events?limit=2", status: http.StatusOK,
			wantBody: eventsBody(`"{e1}"`, e0JSON, e1JSON)},
		{name: "last page", setup: withLog, method: "GET", path: "/events?limit=2&cursor={e1}", status: http.StatusOK,
			wantBody: eventsBody("null", e2JSON)},
		{name: "a page that ends at the end", setup: withLog, method: "GET", path: "/events?limit=3", status: http.StatusOK,
			wantBody: eventsBody("null", e0JSON, e1JSON, e2JSON)},
		{name: "user", setup: withLog, method: "GET", path: "/events?user={bob}", status: http.StatusOK,
			wantBody: eventsBody("null", e1JSON, e2JSON)},
		{name: "unknown user", setup: withLog, method: "GET", path: "/events?user={unknown}", status: http.StatusOK,
			wantBody: eventsBody("null")},
		{name: "type", setup: withLog, method: "GET", path: "/events?type=user.disabled", status: http.StatusOK,
			wantBody: eventsBody("null", e2JSON)},
		{name: "types", setup: withLog, method: "GET", path: "/events?type=user.disabled,user.created&user={bob}", status: http.StatusOK,
			wantBody: eventsBody("null", e1JSON, e2JSON)},
		{name: "after is exclusive", setup: withLog, method: "GET", path: "/events?after=" + q(at(0)), status: http.StatusOK,
			wantBody: eventsBody("null", e1JSON, e2JSON)},
		{name: "before is exclusive", setup: withLog, method: "GET", path: "/events?before=" + q(at(2*time.Second)), status: http.StatusOK,
			wantBody: eventsBody("null", e0JSON, e1JSON)},
		{name: "after and before in another zone", setup: withLog, method: "GET",
			path: "/events?after=" + q(start.Add(500*time.Millisecond).In(time.FixedZone("", 3600)).Format(time.RFC3339Nano)) +
				"&before=" + q(start.Add(1500*time.Millisecond).Format(time.RFC3339Nano)),
			status: http.StatusOK, wantBody: eventsBody("null", e1JSON)},
		{name: "in another tenant", setup: func(t *testing.T, e *env) { withLog(t, e); withBlue(t, e) }, method: "GET", path: "/events", header: map[string]string{"X-Usher-Tenant": "blue"},
			status: http.StatusOK, check: func(t *testing.T, e *env, rec *httptest.ResponseRecorder) {
				// withLog wrote in the default tenant; blue has its own log.
				t.Helper()
				wantEventTypes(t, rec, "tenant.created")
			}},
		{name: "unknown tenant", method: "GET", path: "/events", header: map[string]string{"X-Usher-Tenant": "nosuch"},
			status: http.StatusBadRequest, wantCode: usher.Invalid},
		bad("zero limit", "limit=0"),
		bad("negative limit", "limit=-1"),
		bad("limit not a number", "limit=ten"),
		bad("limit too large", fmt.Sprintf("limit=%d", account.MaxPageSize+1)),
		bad("bad cursor", "cursor=not-a-cursor"),
		bad("unknown type", "type=user.exploded"),
		bad("one unknown type among known ones", "type=user.created,user.exploded"),
		bad("type prefix", "type=user"),
		bad("user not an id", "user=ann@example.com"),
		bad("after not a time", "after=yesterday"),
		bad("before a date only", "before=2030-03-04"),
		bad("unknown parameter", "since=2030-03-04T00:00:00Z"),
		bad("repeated parameter", "limit=1&limit=2"),
	})
}

// wantEventTypes fails the test unless the GET /events answer in rec holds
// events of exactly the types want, in order.
func wantEventTypes(t *testing.T, rec *httptest.ResponseRecorder, want ...string) {
	t.Helper()
	var body struct {
		Events []struct {
			Type string `json:"type"`
		} `json:"events"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %s: %v", rec.Body, err)
	}
	var got []string
	for _, e := range body.Events {
		got = append(got, e.Type)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("event types: got %v, want %v", got, want)
	}
}

// TestEventsOfRequests checks what a request's event records of it: the
// client certificate's subject, the client address, the request id.
func TestEventsOfRequests(t *testing.T) {
	e := newHookEnv(t)
	rec := e.serve(t, scenario{method: "POST", path: "/users", header: map[string]string{"X-Request-ID": "req-4711"},
		body: `{"email":"cat@example.com","password":"` + annPassword + `"}`})
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST /users: got %d (%s), want 201", rec.Code, rec.Body)
	}
	rec = e.serve(t, scenario{method: "GET", path: "/events"})
	var body struct {
		Events []map[string]any `json:"events"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body.Events) != 1 {
		t.Fatalf("GET /events: got %s (%v), want one event", rec.Body, err)
	}
	got := body.Events[0]
	for k, want := range map[string]any{"type": "user.created", "actor": "backend:backend client", "ip": "192.0.2.1", "request_id": "req-4711"} {
		if got[k] != want {
			t.Errorf("event's %s: got %v, want %v", k, got[k], want)
		}
	}
	if _, err := time.Parse(api.TimeFormat, fmt.Sprint(got["time"])); err != nil {
		t.Errorf("event's time %v: %v", got["time"], err)
	}
}

// withHook creates an endpoint in the default tenant: {hook} is its id.
func withHook(t *testing.T, e *env) {
	t.Helper()
	w, _, err := e.Service.CreateWebhook(t.Context(), e.Tenant.ID, "https://hooks.example.com/usher", []string{"user.created", "*"})
	if err != nil {
		t.Fatalf("CreateWebhook: %v", err)
	}
	e.vars["{hook}"] = w.ID
}

// withBlueHook creates blue and an endpoint in it: {blueHook} is its id.
func withBlueHook(t *testing.T, e *env) {
	t.Helper()
	withBlue(t, e)
	w, _, err := e.Service.CreateWebhook(t.Context(), e.vars["{blue}"], "https://hooks.example.com/blue", []string{"*"})
	if err != nil {
		t.Fatalf("CreateWebhook in blue: %v", err)
	}
	e.vars["{blueHook}"] = w.ID
}

// hooksOf returns the ids of a tenant's endpoints.
func hooksOf(t *testing.T, e *env, tenantID string) []string {
	t.Helper()
	ws, err := e.Service.Webhooks(t.Context(), tenantID)
	if err != nil {
		t.Fatalf("Webhooks: %v", err)
	}
	var out []string
	for _, w := range ws {
		out = append(out, w.ID)
	}
	return out
}

func wantHooks(tenantVar string, want ...string) func(*testing.T, *env, *httptest.ResponseRecorder) {
	return func(t *testing.T, e *env, _ *httptest.ResponseRecorder) {
		t.Helper()
		tid := e.Tenant.ID
		if tenantVar != "" {
			tid = e.vars[tenantVar]
		}
		var w []string
		for _, v := range want {
			w = append(w, e.vars[v])
		}
		if got := hooksOf(t, e, tid); strings.Join(got, ",") != strings.Join(w, ",") {
			t.Errorf("endpoints of the tenant: got %v, want %v", got, w)
		}
	}
}

const hookListJSON = `{"webhooks":[{"id":"{hook}","url":"https://hooks.example.com/usher","events":["*"],"created_at":"2030-03-04T05:06:07.000Z"}]}`

func TestWebhooks(t *testing.T) {
	post := func(name, body string, status int, code usher.Code) hookCase {
		return hookCase{name: name, method: "POST", path: "/webhooks", body: body, status: status, wantCode: code,
			check: func(t *testing.T, e *env, _ *httptest.ResponseRecorder) {
				t.Helper()
				if got := hooksOf(t, e, e.Tenant.ID); len(got) != 0 {
					t.Errorf("endpoints after a refused POST: got %d, want none", len(got))
				}
			}}
	}
	full := func(t *testing.T, e *env) {
		t.Helper()
		for i := range account.MaxWebhooks {
			if _, _, err := e.Service.CreateWebhook(t.Context(), e.Tenant.ID, fmt.Sprintf("https://hooks.example.com/%d", i), []string{"*"}); err != nil {
				t.Fatalf("CreateWebhook %d: %v", i, err)
			}
		}
	}
	runHooks(t, []hookCase{
		{name: "create", method: "POST", path: "/webhooks", body: `{"url":"https://hooks.example.com/usher","events":["user.created","*","user.created"]}`,
			status: http.StatusCreated, check: checkCreated},
		post("url refused", `{"url":"http://localhost/hook","events":["*"]}`, http.StatusBadRequest, usher.Invalid),
		post("url not http", `{"url":"ftp://hooks.example.com/","events":["*"]}`, http.StatusBadRequest, usher.Invalid),
		post("url without host", `{"url":"https:///hook","events":["*"]}`, http.StatusBadRequest, usher.Invalid),
		post("no url", `{"events":["*"]}`, http.StatusBadRequest, usher.Invalid),
		post("unknown type", `{"url":"https://hooks.example.com/","events":["user.created","user.exploded"]}`, http.StatusBadRequest, usher.Invalid),
		post("type prefix", `{"url":"https://hooks.example.com/","events":["user.*"]}`, http.StatusBadRequest, usher.Invalid),
		post("empty events", `{"url":"https://hooks.example.com/","events":[]}`, http.StatusBadRequest, usher.Invalid),
		post("no events", `{"url":"https://hooks.example.com/"}`, http.StatusBadRequest, usher.Invalid),
		post("not JSON", `url=https://hooks.example.com/`, http.StatusBadRequest, usher.InvalidJSON),
		{name: "one too many", setup: full, method: "POST", path: "/webhooks", body: `{"url":"https://hooks.example.com/more","events":["*"]}`,
			status: http.StatusConflict, wantCode: usher.Conflict, check: func(t *testing.T, e *env, _ *httptest.ResponseRecorder) {
				t.Helper()
				if got := hooksOf(t, e, e.Tenant.ID); len(got) != account.MaxWebhooks {
					t.Errorf("endpoints after a refused POST: got %d, want %d", len(got), account.MaxWebhooks)
				}
			}},
		{name: "create in another tenant", setup: withBlue, method: "POST", path: "/webhooks", header: inBlue,
			body: `{"url":"https://hooks.example.com/blue","events":["*"]}`, status: http.StatusCreated,
			check: func(t *testing.T, e *env, _ *httptest.ResponseRecorder) {
				t.Helper()
				if got := hooksOf(t, e, e.vars["{blue}"]); len(got) != 1 {
					t.Errorf("blue's endpoints: got %d, want 1", len(got))
				}
				if got := hooksOf(t, e, e.Tenant.ID); len(got) != 0 {
					t.Errorf("the default tenant's endpoints: got %d, want none", len(got))
				}
			}},

		{name: "list", setup: withHook, method: "GET", path: "/webhooks", status: http.StatusOK, wantBody: hookListJSON},
		{name: "list empty", method: "GET", path: "/webhooks", status: http.StatusOK, wantBody: `{"webhooks":[]}`},
		{name: "list of another tenant", setup: func(t *testing.T, e *env) { withHook(t, e); withBlueHook(t, e) },
			method: "GET", path: "/webhooks", header: inBlue, status: http.StatusOK,
			wantBody: `{"webhooks":[{"id":"{blueHook}","url":"https://hooks.example.com/blue","events":["*"],"created_at":"2030-03-04T05:06:07.000Z"}]}`},
		{name: "list in an unknown tenant", method: "GET", path: "/webhooks", header: map[string]string{"X-Usher-Tenant": "nosuch"},
			status: http.StatusBadRequest, wantCode: usher.Invalid},

		{name: "delete", setup: withHook, method: "DELETE", path: "/webhooks/{hook}", status: http.StatusNoContent, wantBody: "",
			check: wantHooks("")},
		{name: "delete unknown", setup: withHook, method: "DELETE", path: "/webhooks/{unknown}", status: http.StatusNotFound,
			wantCode: usher.NotFound, check: wantHooks("", "{hook}")},
		{name: "delete not an id", setup: withHook, method: "DELETE", path: "/webhooks/nope", status: http.StatusNotFound,
			wantCode: usher.NotFound, check: wantHooks("", "{hook}")},
		{name: "delete another tenant's", setup: func(t *testing.T, e *env) { withHook(t, e); withBlueHook(t, e) },
			method: "DELETE", path: "/webhooks/{blueHook}", status: http.StatusNotFound, wantCode: usher.NotFound,
			check: wantHooks("{blue}", "{blueHook}")},
		{name: "delete the default tenant's from another", setup: func(t *testing.T, e *env) { withHook(t, e); withBlueHook(t, e) },
			method: "DELETE", path: "/webhooks/{hook}", header: inBlue, status: http.StatusNotFound, wantCode: usher.NotFound,
			check: wantHooks("", "{hook}")},
		{name: "delete in its tenant", setup: withBlueHook, method: "DELETE", path: "/webhooks/{blueHook}", header: inBlueByID,
			status: http.StatusNoContent, wantBody: "", check: wantHooks("{blue}")},
	})
}

// checkCreated checks a 201 answer to POST /webhooks: the endpoint with
// its secret, shown this once, and then listed without it.
func checkCreated(t *testing.T, e *env, rec *httptest.ResponseRecorder) {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("body %s: %v", rec.Body, err)
	}
	id, _ := got["id"].(string)
	secret, _ := got["secret"].(string)
	if !usher.ValidID(id) {
		t.Fatalf("id: got %v, want an id", got["id"])
	}
	if key, err := webhook.ParseSecret(secret); err != nil || !strings.HasPrefix(secret, "whsec_") || len(key) != 32 {
		t.Errorf("secret: got one of %d characters (%v), want whsec_ and the base64 of 32 bytes", len(secret), err)
	}
	e.vars["{hook}"] = id
	want := fmt.Sprintf(`{"id":%q,"url":"https://hooks.example.com/usher","events":["*"],"secret":%q,"created_at":"2030-03-04T05:06:07.000Z"}`, id, secret)
	apitest.CheckNativeBody(t, rec, want, "")
	if got, want := rec.Header().Get("Location"), "/webhooks/"+id; got != want {
		t.Errorf("Location: got %q, want %q", got, want)
	}

	// Stored sealed, and never shown again.
	ws, err := e.Service.Webhooks(t.Context(), e.Tenant.ID)
	if err != nil || len(ws) != 1 {
		t.Fatalf("Webhooks: got %d, %v; want 1", len(ws), err)
	}
	if ws[0].Secret == secret || strings.Contains(ws[0].Secret, strings.TrimPrefix(secret, "whsec_")) {
		t.Errorf("the stored secret is the secret itself, not sealed")
	}
	if opened, err := e.Service.WebhookSecret(ws[0]); err != nil || opened != secret {
		t.Errorf("WebhookSecret: got a secret equal to the one shown: %t (%v), want true", opened == secret, err)
	}
	list := e.serve(t, scenario{method: "GET", path: "/webhooks"})
	if strings.Contains(list.Body.String(), "secret") || strings.Contains(list.Body.String(), strings.TrimPrefix(secret, "whsec_")) {
		t.Errorf("GET /webhooks shows a secret: %s", list.Body)
	}
	apitest.CheckNativeBody(t, list, e.vars.Expand(hookListJSON), "")
}
