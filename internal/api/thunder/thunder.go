// Package thunder serves the Thunder surface (seed 001): Thunder 3.x's user
// API, wire-compatible with its clients, over the same users as the other
// surfaces.
package thunder

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/usher"
)

// App is an application allowed to call the surface (HTTP Basic). Its
// calls act in its tenant (the default tenant when Tenant is "").
type App struct{ Name, Secret, Tenant string }

// Config configures the surface.
type Config struct {
	Apps []App
	// OAuth, when set, replaces HTTP Basic: applications send a JWT bearer
	// token that it verifies (Thunder's auth.type oauth). Apps are then
	// unused; calls act in the default tenant.
	OAuth Verifier
	// HeaderCheck requires the user's password in the "password" header of
	// calls on an existing user (Thunder's headerCheck).
	HeaderCheck bool
	// CommonMistakes lets the password header also match the mistakes
	// Thunder's allowCommonMistakes forgives (see mistakes).
	CommonMistakes bool
	// NoEmail leaves out the /verify routes, as Thunder does with email
	// disabled: they answer 404.
	NoEmail bool
	// SuccessPage replaces the page of GET /verify/success (HTML; nil: the
	// page every surface shares).
	SuccessPage []byte
	Properties  Properties
	// Recorder receives the surface's meters, counters and timers under
	// Thunder's names (nil: nothing is recorded).
	Recorder Recorder
}

// Verifier checks a bearer token and returns its subject.
type Verifier interface {
	Verify(raw string) (string, error)
}

// Accounts are the use cases the Thunder surface calls: one per call.
type Accounts interface {
	Create(ctx context.Context, tenantID string, in account.NewUser) (usher.User, error)
	ReadUser(ctx context.Context, tenantID string, a account.Access) (account.Record, error)
	ReplaceUser(ctx context.Context, tenantID string, a account.Access, r account.Replacement) (account.Record, error)
	DeleteUser(ctx context.Context, tenantID string, a account.Access) (account.Record, error)
	RequestVerification(ctx context.Context, tenantID string, a account.Access) (account.Record, error)
	ClearVerification(ctx context.Context, tenantID string, a account.Access) (account.Record, error)
	VerifyEmail(ctx context.Context, tenantID, email, tok string) (account.Record, error)
}

// Handler serves the Thunder surface for one tenant.
type Handler struct {
	accounts Accounts
	tenantID string
	c        Config
	apps     map[[32]byte]app // by sha256(name)
}

// app is a configured application as the guard checks it.
type app struct {
	secret [32]byte // sha256(secret)
	tenant string   // the tenant id its calls act in
}

// New returns a Handler.
func New(accounts Accounts, tenantID string, c Config) *Handler {
	if c.Recorder == nil {
		c.Recorder = nopRecorder{}
	}
	h := &Handler{accounts: accounts, tenantID: tenantID, c: c, apps: map[[32]byte]app{}}
	for _, a := range c.Apps {
		t := a.Tenant
		if t == "" {
			t = tenantID
		}
		h.apps[sha256.Sum256([]byte(a.Name))] = app{secret: sha256.Sum256([]byte(a.Secret)), tenant: t}
	}
	return h
}

// Surface is the Thunder surface: its routes, and errors and unknown
// routes rendered in Thunder's formats.
func (h *Handler) Surface() api.Surface {
	return api.Surface{Name: "thunder", Routes: h.Routes(), Render: Render, NoRoute: noRoute}
}

// Routes is the Thunder surface's route table. Each call that Thunder
// meters marks its meter once admitted (Thunder's meters sit on its
// resource methods, behind authentication).
func (h *Handler) Routes() []api.Route {
	app := h.Basic()
	if h.c.OAuth != nil {
		app = h.Bearer()
	}
	m := h.Metered
	routes := []api.Route{
		{Pattern: "POST /users", Guard: app, Handler: m(MeterCreate, h.create)},
		{Pattern: "GET /users", Guard: app, Handler: m(MeterGet, h.onUser(h.accounts.ReadUser))},
		{Pattern: "PUT /users", Guard: app, Handler: m(MeterUpdate, h.update)},
		{Pattern: "DELETE /users", Guard: app, Handler: m(MeterDelete, h.onUser(h.accounts.DeleteUser))},
	}
	if h.c.NoEmail {
		return routes
	}
	return append(routes,
		api.Route{Pattern: "POST /verify", Guard: app, Handler: m(MeterSendEmail, h.onUser(h.accounts.RequestVerification))},
		api.Route{Pattern: "POST /verify/reset", Guard: app, Handler: m(MeterResetVerification, h.onUser(h.accounts.ClearVerification))},
		api.Route{Pattern: "GET /verify", Guard: api.Open, Handler: m(MeterVerifyEmail, h.verifyLink)},
		api.Route{Pattern: "GET /verify/success", Guard: api.Open, Handler: h.successPage},
	)
}

// Metered marks meter each time fn is called (the swagger route marks
// MeterSwagger through it).
func (h *Handler) Metered(meter string, fn api.HandlerFunc) api.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		h.c.Recorder.Mark(meter)
		return fn(w, r)
	}
}

func (h *Handler) successPage(w http.ResponseWriter, r *http.Request) error {
	if h.c.SuccessPage == nil {
		return api.SuccessPage(w, r)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(h.c.SuccessPage)
	return err
}

const realm = `Basic realm="THUNDER - AUTHENTICATION"`

// Basic admits requests with the HTTP Basic credentials of a configured
// application; others get Thunder's challenge.
func (h *Handler) Basic() api.Guard {
	return api.Guard{Name: "thunder-basic", Check: func(w http.ResponseWriter, r *http.Request) (*http.Request, error) {
		name, secret, given := r.BasicAuth()
		a, ok := app{}, false
		if given {
			// As in Thunder, only credentials that were given are counted
			// and timed.
			t0 := time.Now()
			a, ok = h.authorized(name, secret)
			h.c.Recorder.Time(TimerBasic, time.Since(t0))
			if ok {
				h.c.Recorder.Count(CounterBasicSuccess)
			} else {
				h.c.Recorder.Count(CounterBasicFailure)
			}
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", realm)
			return nil, &thunderError{err: usher.Errorf(usher.Unauthorized, msgNoCredentials), msg: msgNoCredentials, bare: true}
		}
		ctx := usher.WithActor(context.WithValue(r.Context(), tenantKey{}, a.tenant), "thunder:"+name)
		return r.WithContext(ctx), nil
	}}
}

// tenantKey carries the tenant of the application a request came from.
type tenantKey struct{}

// tenant returns the tenant r acts in: its application's.
func (h *Handler) tenant(r *http.Request) string {
	if t, ok := r.Context().Value(tenantKey{}).(string); ok {
		return t
	}
	return h.tenantID
}

func (h *Handler) authorized(name, secret string) (app, bool) {
	want, found := h.apps[sha256.Sum256([]byte(name))]
	got := sha256.Sum256([]byte(secret))
	return want, subtle.ConstantTimeCompare(got[:], want.secret[:]) == 1 && found
}

// noRoute answers unknown routes as Thunder's Jersey server does.
func noRoute(w http.ResponseWriter, _ *http.Request, status int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"code":%d,"message":"HTTP %d %s"}`, status, status, http.StatusText(status))
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) error {
	in, err := readUser(r)
	if err != nil {
		return err
	}
	if err := h.precheck(in, true); err != nil {
		return err
	}
	u, err := h.accounts.Create(r.Context(), h.tenant(r), account.NewUser{
		Email: in.email, Password: *in.password, Enabled: true, Data: in.data,
	})
	if err != nil {
		return say(err, &in.email, false)
	}
	return render(w, http.StatusCreated, account.Record{User: u}, true)
}

// precheck applies Thunder's own rules to a parsed user, in Thunder's
// order: the email, the properties, then (on create) the password. The
// email's rules belong to the use case, which checks it on success; here it
// is checked only when a later rule fails, to report what Thunder would.
func (h *Handler) precheck(in input, create bool) error {
	props := h.c.Properties.Valid(in.props)
	noPassword := create && (in.password == nil || *in.password == "")
	if props && !noPassword {
		return nil
	}
	if _, _, err := account.NormalizeEmail(in.email); err != nil {
		return fail(usher.InvalidEmail, msgBadEmail, &in.email)
	}
	if !props {
		return fail(usher.InvalidData, msgBadProperties, &in.email)
	}
	return fail(usher.Invalid, msgNoPassword, &in.email)
}

// emailParam returns the email query parameter: nil when absent, so that
// errors name no user (null), and "" when empty (Thunder echoes what it
// was given).
func emailParam(q url.Values) *string {
	if !q.Has("email") {
		return nil
	}
	email := q.Get("email")
	return &email
}

// access returns the Access of a call on the user at address who, with the
// password of the "password" header.
func (h *Handler) access(r *http.Request, who *string) (account.Access, error) {
	if who == nil || strings.TrimSpace(*who) == "" {
		return account.Access{}, fail(usher.Invalid, msgBadEmailParam, who)
	}
	a := account.Access{Email: *who, Password: latin1(r.Header.Get("password")), Check: h.c.HeaderCheck}
	if h.c.CommonMistakes {
		a.Alternates = mistakes(a.Password)
	}
	if a.Check && a.Password == "" {
		return a, fail(usher.Invalid, msgNoCredentials, who)
	}
	return a, nil
}

// onUser serves a call on the user named by ?email=: one use case, whose
// result is rendered.
func (h *Handler) onUser(call func(context.Context, string, account.Access) (account.Record, error)) api.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		who := emailParam(r.URL.Query())
		a, err := h.access(r, who)
		if err != nil {
			return err
		}
		rec, err := call(r.Context(), h.tenant(r), a)
		if err != nil {
			return say(err, who, false)
		}
		return render(w, http.StatusOK, rec, true)
	}
}

func (h *Handler) update(w http.ResponseWriter, r *http.Request) error {
	in, err := readUser(r)
	if err != nil {
		return err
	}
	if err := h.precheck(in, false); err != nil {
		return err
	}
	// Without ?email=, the body's address names the user to replace.
	who := emailParam(r.URL.Query())
	if who == nil || *who == "" {
		who = &in.email
	}
	a, err := h.access(r, who)
	if err != nil {
		return err
	}
	rec, err := h.accounts.ReplaceUser(r.Context(), h.tenant(r), a, account.Replacement{Email: in.email, Password: in.password, Data: in.data})
	if err != nil {
		// Errors about the user being replaced name it (the address of
		// ?email=); errors about the new user name the new address.
		switch usher.ErrorCode(err) {
		case usher.NotFound, usher.Unauthorized, usher.EmailTaken:
			return say(err, who, true)
		case usher.InvalidEmail:
			if errors.Is(err, account.ErrAccessEmail) {
				return say(err, who, true)
			}
		}
		return say(err, &in.email, true)
	}
	return render(w, http.StatusOK, rec, true)
}

func (h *Handler) verifyLink(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	who := emailParam(q)
	if who == nil || strings.TrimSpace(*who) == "" {
		return fail(usher.Invalid, msgBadEmailParam, who)
	}
	tok := q.Get("token")
	if tok == "" {
		return fail(usher.Invalid, msgBadTokenParam, who)
	}
	// The link names the user's tenant when it is not the default one.
	tenantID := h.tenantID
	if t := q.Get("tenant"); t != "" {
		if !usher.ValidID(t) {
			return fail(usher.Invalid, msgBadTokenParam, who)
		}
		tenantID = t
	}
	rec, err := h.accounts.VerifyEmail(r.Context(), tenantID, *who, tok)
	if err != nil {
		return say(err, who, false)
	}
	if strings.EqualFold(q.Get("response_type"), "html") {
		http.Redirect(w, r, "/verify/success", http.StatusSeeOther)
		return nil
	}
	// Whoever holds the link gets the user, but not its password hash
	// (a deviation from Thunder, which shows it to anyone with the link).
	return render(w, http.StatusOK, rec, false)
}
