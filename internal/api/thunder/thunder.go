// Package thunder serves the Thunder surface (seed 001): Thunder 3.x's user
// API, wire-compatible with its clients, over the same users as the other
// surfaces.
package thunder

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/strictjson"
	"github.com/usherhq/usher/internal/usher"
)

// Thunder's messages.
const (
	msgNullUser        = "Cannot post a null user."
	msgNoEmail         = "Cannot post a user without an email address."
	msgBadEmail        = "Invalid email address format. Please try again."
	msgBadProperties   = "Cannot post a user with invalid properties."
	msgBadEmailParam   = "Incorrect or missing email query parameter."
	msgBadTokenParam   = "Incorrect or missing verification token query parameter."
	msgBadToken        = "Incorrect verification token."
	msgNotFound        = "User not found in the database."
	msgConflict        = "A user with the same email address already exists."
	msgConflictUpdate  = "A user with the new email address already exists."
	msgUnavailable     = "Database is currently unavailable. Please try again later."
	msgNoCredentials   = "Credentials are required to access this resource."
	msgBadCredentials  = "Unable to validate user with provided credentials."
	msgBadJSON         = "Unable to process JSON."
	msgNoPassword      = "Cannot post a user without a password."
	msgInternal        = "The request failed for an unknown reason."
	msgOverloaded      = "The server is busy. Please try again later."
	msgTooLarge        = "The request body is too large."
	msgUnsupportedType = "Content-Type must be application/json."
	realm              = `Basic realm="THUNDER - AUTHENTICATION"`
)

// App is an application allowed to call the surface (HTTP Basic).
type App struct{ Name, Secret string }

// Config configures the surface.
type Config struct {
	Apps []App
	// HeaderCheck requires the user's password in the "password" header of
	// calls on an existing user (Thunder's headerCheck).
	HeaderCheck bool
	Properties  Properties
}

// Handler serves the Thunder surface for one tenant.
type Handler struct {
	accounts *account.Service
	tenantID string
	c        Config
	log      *slog.Logger
	apps     map[[32]byte][32]byte // sha256(name) -> sha256(secret)
}

// New returns a Handler.
func New(accounts *account.Service, tenantID string, c Config, log *slog.Logger) *Handler {
	h := &Handler{accounts: accounts, tenantID: tenantID, c: c, log: log, apps: map[[32]byte][32]byte{}}
	for _, a := range c.Apps {
		h.apps[sha256.Sum256([]byte(a.Name))] = sha256.Sum256([]byte(a.Secret))
	}
	return h
}

// Policy is a Thunder route's authentication.
type Policy string

// The policies.
const (
	BasicAuth Policy = "basic"  // an application's Basic credentials
	NoAuth    Policy = "public" // verification links
)

// Route is one row of the route table.
type Route struct {
	Pattern string
	Auth    Policy
	Handler func(w http.ResponseWriter, r *http.Request) error
}

// Routes is the Thunder surface's route table.
func (h *Handler) Routes() []Route {
	return []Route{
		{"POST /users", BasicAuth, h.create},
		{"GET /users", BasicAuth, h.onUser(nil)},
		{"PUT /users", BasicAuth, h.update},
		{"DELETE /users", BasicAuth, h.delete},
		{"POST /verify", BasicAuth, h.onUser(h.sendVerification)},
		{"POST /verify/reset", BasicAuth, h.onUser(h.resetVerification)},
		{"GET /verify", NoAuth, h.verifyLink},
		{"GET /verify/success", NoAuth, SuccessPage},
	}
}

// Mux builds the surface: every route guarded by its policy, and Thunder's
// JSON 404/405 for anything else.
func (h *Handler) Mux() (http.Handler, error) {
	mux := http.NewServeMux()
	for _, rt := range h.Routes() {
		handle := func(w http.ResponseWriter, r *http.Request) {
			if err := rt.Handler(w, r); err != nil {
				h.writeError(w, r, err)
			}
		}
		switch rt.Auth {
		case NoAuth:
			mux.HandleFunc(rt.Pattern, handle)
		case BasicAuth:
			mux.HandleFunc(rt.Pattern, func(w http.ResponseWriter, r *http.Request) {
				if !h.authorized(r) {
					w.Header().Set("WWW-Authenticate", realm)
					writeText(w, http.StatusUnauthorized, msgNoCredentials)
					return
				}
				handle(w, r)
			})
		default:
			return nil, fmt.Errorf("thunder: route %q has no known auth policy", rt.Pattern)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		status := http.StatusNotFound
		for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, p := mux.Handler(probe); p != "" {
				status = http.StatusMethodNotAllowed
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"code":%d,"message":"HTTP %d %s"}`, status, status, http.StatusText(status))
	}), nil
}

func (h *Handler) authorized(r *http.Request) bool {
	name, secret, ok := r.BasicAuth()
	if !ok {
		return false
	}
	want, found := h.apps[sha256.Sum256([]byte(name))]
	got := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1 && found
}

// thunderError is an error in Thunder's words.
type thunderError struct {
	status int
	msg    string
	email  string
	cause  error
}

func (e *thunderError) Error() string { return e.msg }

// Unwrap returns the internal cause, which is logged, never rendered.
func (e *thunderError) Unwrap() error { return e.cause }

func fail(status int, msg, email string) error {
	return &thunderError{status: status, msg: msg, email: email}
}

// writeError renders err as Thunder does: plain text
// "<message> (User: <email or null>)".
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var te *thunderError
	if !errors.As(err, &te) {
		te = h.translate(err, "", false)
	}
	cause := error(te)
	if te.cause != nil {
		cause = te.cause
	}
	switch {
	case te.status == http.StatusServiceUnavailable:
		h.log.WarnContext(r.Context(), "thunder request refused", "event", "thunder_unavailable", "error", cause)
		w.Header().Set("Retry-After", "1")
	case te.status >= 500:
		h.log.ErrorContext(r.Context(), "thunder request failed", "event", "internal_error", "error", cause)
	}
	who := "null"
	if te.email != "" {
		who = te.email
	}
	writeText(w, te.status, te.msg+" (User: "+who+")")
}

// translate maps a domain error to Thunder's status and message.
func (h *Handler) translate(err error, email string, update bool) *thunderError {
	te := &thunderError{email: email, cause: err}
	switch usher.ErrorCode(err) {
	case usher.NotFound:
		te.status, te.msg = http.StatusNotFound, msgNotFound
	case usher.EmailTaken:
		te.status, te.msg = http.StatusConflict, msgConflict
		if update {
			te.msg = msgConflictUpdate
		}
	case usher.InvalidEmail:
		te.status, te.msg = http.StatusBadRequest, msgBadEmail
	case usher.InvalidData:
		te.status, te.msg = http.StatusBadRequest, msgBadProperties
	case usher.InvalidPassword:
		te.status, te.msg = http.StatusBadRequest, "Cannot post a user with an invalid password: "+usher.ErrorMessage(err)
	case usher.InvalidCode:
		te.status, te.msg = http.StatusBadRequest, msgBadToken
	case usher.InvalidJSON:
		te.status, te.msg = http.StatusBadRequest, msgBadJSON
	case usher.TooLarge:
		te.status, te.msg = http.StatusRequestEntityTooLarge, msgTooLarge
	case usher.MediaType:
		te.status, te.msg = http.StatusUnsupportedMediaType, msgUnsupportedType
	case usher.Unavailable:
		te.status, te.msg = http.StatusServiceUnavailable, msgUnavailable
	case usher.Overloaded:
		te.status, te.msg = http.StatusServiceUnavailable, msgOverloaded
	default:
		if errors.Is(err, context.DeadlineExceeded) {
			te.status, te.msg = http.StatusServiceUnavailable, msgUnavailable
		} else {
			te.status, te.msg = http.StatusInternalServerError, msgInternal
		}
	}
	return te
}

func writeText(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(text))
}

// input is a user as a client sends it.
type input struct {
	email    string
	password *string
	props    map[string]json.RawMessage
	data     []byte // props as a JSON object
}

// reserved are the top-level keys that are not custom properties.
var reserved = map[string]bool{"email": true, "password": true, "creationTime": true, "lastUpdateTime": true}

// readUser parses a request body into a user.
func readUser(r *http.Request) (input, error) {
	body, err := api.ReadBody(r, account.MaxDataDepth+1)
	if err != nil {
		if errors.Is(err, api.ErrEmptyBody) {
			return input{}, fail(http.StatusBadRequest, msgNullUser, "")
		}
		return input{}, err
	}
	if string(bytes.TrimSpace(body)) == "null" {
		return input{}, fail(http.StatusBadRequest, msgNullUser, "")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return input{}, fail(http.StatusBadRequest, msgBadJSON, "")
	}
	var in input
	var email struct {
		Address *string `json:"address"`
	}
	if raw, ok := top["email"]; !ok || string(raw) == "null" || json.Unmarshal(raw, &email) != nil || email.Address == nil || *email.Address == "" {
		return input{}, fail(http.StatusBadRequest, msgNoEmail, "")
	}
	in.email = *email.Address
	if raw, ok := top["password"]; ok && string(raw) != "null" {
		var pw string
		if json.Unmarshal(raw, &pw) != nil {
			return input{}, fail(http.StatusBadRequest, msgBadJSON, in.email)
		}
		in.password = &pw
	}
	in.props = map[string]json.RawMessage{}
	for k, v := range top {
		if !reserved[k] {
			in.props[k] = v
		}
	}
	// Rebuild the properties as one object, in the order the client sent
	// them, so they are stored as given.
	in.data, err = propsObject(body)
	if err != nil {
		return input{}, fail(http.StatusBadRequest, msgBadProperties, in.email)
	}
	return in, nil
}

// propsObject returns the body's non-reserved top-level members as a JSON
// object, keeping their order.
func propsObject(body []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil { // {
		return nil, err
	}
	var out bytes.Buffer
	out.WriteByte('{')
	first := true
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		k := kt.(string)
		if reserved[k] {
			continue
		}
		if !first {
			out.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(k)
		out.Write(kb)
		out.WriteByte(':')
		out.Write(v)
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

// render writes u in Thunder's JSON: email object, password (the stored
// hash), custom properties at the top level, epoch-millisecond times.
func (h *Handler) render(ctx context.Context, w http.ResponseWriter, status int, u usher.User) error {
	tok, err := h.accounts.VerificationToken(ctx, u)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString(`{"email":{"address":`)
	writeString(&b, u.Email)
	b.WriteString(`,"verified":`)
	b.WriteString(strconv.FormatBool(u.Confirmed))
	b.WriteString(`,"verificationToken":`)
	if tok == "" {
		b.WriteString("null")
	} else {
		writeString(&b, tok)
	}
	b.WriteString(`},"password":`)
	writeString(&b, u.Hash)
	// Custom data written on another surface may use a reserved name; such
	// a key is left out here rather than shadow Thunder's own fields.
	dec := json.NewDecoder(bytes.NewReader(u.Data))
	if _, err := dec.Token(); err == nil {
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				break
			}
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				break
			}
			k := kt.(string)
			if reserved[k] {
				continue
			}
			b.WriteByte(',')
			writeString(&b, k)
			b.WriteByte(':')
			b.Write(v)
		}
	}
	fmt.Fprintf(&b, `,"creationTime":%d,"lastUpdateTime":%d}`, u.CreatedAt.UnixMilli(), u.UpdatedAt.UnixMilli())
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(b.Bytes())
	return err
}

func writeString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s)
	b.Write(enc)
}

// validate checks a parsed user's email and properties.
func (h *Handler) validate(in input) error {
	if _, _, err := account.NormalizeEmail(in.email); err != nil {
		return fail(http.StatusBadRequest, msgBadEmail, in.email)
	}
	if !h.c.Properties.Valid(in.props) {
		return fail(http.StatusBadRequest, msgBadProperties, in.email)
	}
	if _, err := strictjson.Check(in.data, account.MaxDataDepth); err != nil {
		return fail(http.StatusBadRequest, msgBadProperties, in.email)
	}
	return nil
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) error {
	in, err := readUser(r)
	if err != nil {
		return err
	}
	if err := h.validate(in); err != nil {
		return err
	}
	if in.password == nil || *in.password == "" {
		return fail(http.StatusBadRequest, msgNoPassword, in.email)
	}
	u, err := h.accounts.Create(r.Context(), h.tenantID, account.NewUser{
		Email: in.email, Password: *in.password, Enabled: true, Data: in.data,
	})
	if err != nil {
		return h.translate(err, in.email, false)
	}
	return h.render(r.Context(), w, http.StatusCreated, u)
}

// emailParam returns the email query parameter, or Thunder's 400.
func emailParam(r *http.Request) (string, error) {
	email := r.URL.Query().Get("email")
	if strings.TrimSpace(email) == "" {
		return "", fail(http.StatusBadRequest, msgBadEmailParam, "")
	}
	return email, nil
}

// authorizedUser finds the user with email and, with HeaderCheck, checks
// the "password" header against it.
func (h *Handler) authorizedUser(r *http.Request, email string) (usher.User, error) {
	pw := latin1(r.Header.Get("password"))
	if h.c.HeaderCheck && pw == "" {
		return usher.User{}, fail(http.StatusBadRequest, msgNoCredentials, email)
	}
	u, err := h.accounts.UserByEmail(r.Context(), h.tenantID, email)
	if err != nil {
		if usher.ErrorCode(err) == usher.InvalidEmail {
			return usher.User{}, fail(http.StatusBadRequest, msgBadEmailParam, email)
		}
		return usher.User{}, h.translate(err, email, false)
	}
	if !h.c.HeaderCheck {
		return u, nil
	}
	ok, err := h.accounts.CheckUser(r.Context(), u, pw)
	if err != nil {
		return usher.User{}, h.translate(err, email, false)
	}
	if !ok {
		return usher.User{}, fail(http.StatusUnauthorized, msgBadCredentials, email)
	}
	return u, nil
}

// latin1 reads a header value that is not UTF-8 as ISO-8859-1, the way
// Thunder's Java server reads headers (and Node.js clients send them).
func latin1(v string) string {
	if utf8.ValidString(v) {
		return v
	}
	r := make([]rune, len(v))
	for i := 0; i < len(v); i++ {
		r[i] = rune(v[i])
	}
	return string(r)
}

// userFromQuery returns the user named by ?email=, after the password
// header check.
func (h *Handler) userFromQuery(r *http.Request) (string, usher.User, error) {
	email, err := emailParam(r)
	if err != nil {
		return "", usher.User{}, err
	}
	u, err := h.authorizedUser(r, email)
	return email, u, err
}

// onUser serves a call on the user named by ?email=: act (if any) changes
// the user, and the result is rendered.
func (h *Handler) onUser(act func(ctx context.Context, id string) (usher.User, error)) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		email, u, err := h.userFromQuery(r)
		if err != nil {
			return err
		}
		if act != nil {
			if u, err = act(r.Context(), u.ID); err != nil {
				return h.translate(err, email, false)
			}
		}
		return h.render(r.Context(), w, http.StatusOK, u)
	}
}

func (h *Handler) sendVerification(ctx context.Context, id string) (usher.User, error) {
	u, _, err := h.accounts.SendVerification(ctx, h.tenantID, id)
	return u, err
}

func (h *Handler) resetVerification(ctx context.Context, id string) (usher.User, error) {
	return h.accounts.ResetVerification(ctx, h.tenantID, id)
}

func (h *Handler) update(w http.ResponseWriter, r *http.Request) error {
	in, err := readUser(r)
	if err != nil {
		return err
	}
	existing := r.URL.Query().Get("email")
	if existing == "" {
		existing = in.email
	}
	if err := h.validate(in); err != nil {
		return err
	}
	u, err := h.authorizedUser(r, existing)
	if err != nil {
		return err
	}
	// Clients send back the user they read, whose password is the stored
	// hash: that keeps the password. Anything else is a new password.
	pw := in.password
	if pw != nil && (*pw == "" || *pw == u.Hash) {
		pw = nil
	}
	u, err = h.accounts.Replace(r.Context(), h.tenantID, u.ID, account.Replacement{Email: in.email, Password: pw, Data: in.data})
	if err != nil {
		return h.translate(err, in.email, true)
	}
	return h.render(r.Context(), w, http.StatusOK, u)
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request) error {
	email, u, err := h.userFromQuery(r)
	if err != nil {
		return err
	}
	// Render before deleting: the answer is the user as it was.
	var buf bufferedWriter
	if err := h.render(r.Context(), &buf, http.StatusOK, u); err != nil {
		return err
	}
	if err := h.accounts.Delete(r.Context(), h.tenantID, u.ID); err != nil {
		return h.translate(err, email, false)
	}
	return buf.flush(w)
}

func (h *Handler) verifyLink(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	email, tok := q.Get("email"), q.Get("token")
	if strings.TrimSpace(email) == "" {
		return fail(http.StatusBadRequest, msgBadEmailParam, "")
	}
	if tok == "" {
		return fail(http.StatusBadRequest, msgBadTokenParam, email)
	}
	u, err := h.accounts.VerifyEmail(r.Context(), h.tenantID, email, tok)
	if err != nil {
		if usher.ErrorCode(err) == usher.InvalidEmail {
			return fail(http.StatusBadRequest, msgBadEmailParam, email)
		}
		return h.translate(err, email, false)
	}
	if strings.EqualFold(q.Get("response_type"), "html") {
		http.Redirect(w, r, "/verify/success", http.StatusSeeOther)
		return nil
	}
	return h.render(r.Context(), w, http.StatusOK, u)
}

// SuccessPage is GET /verify/success, on the Thunder and public surfaces.
func SuccessPage(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write([]byte(successHTML))
	return err
}

const successHTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>Account verified</title></head>
<body style="font-family: sans-serif; text-align: center; margin-top: 4em">
<h1>Success!</h1>
<p>Your account has been verified.</p>
</body></html>
`

// bufferedWriter holds a response until it is known to be wanted.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header {
	if b.header == nil {
		b.header = http.Header{}
	}
	return b.header
}
func (b *bufferedWriter) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *bufferedWriter) WriteHeader(status int)      { b.status = status }

func (b *bufferedWriter) flush(w http.ResponseWriter) error {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	w.WriteHeader(b.status)
	_, err := w.Write(b.body.Bytes())
	return err
}
