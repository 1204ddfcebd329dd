package backend

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/usher"
)

// TenantHeader names the tenant a backend request acts in (its id or its
// name); without it, requests act in the default tenant.
const TenantHeader = "X-Usher-Tenant"

// tenant returns the id of the tenant r acts in.
func (h *Handler) tenant(r *http.Request) (string, error) {
	ref := r.Header.Get(TenantHeader)
	if ref == "" {
		return h.tenantID, nil
	}
	t, err := h.accounts.Tenant(r.Context(), ref)
	if usher.ErrorCode(err) == usher.NotFound {
		// Not 404: a client must not read "no such user" (or "already
		// deleted") when it named the tenant wrong.
		return "", usher.Errorf(usher.Invalid, "The %s header names no tenant.", TenantHeader)
	}
	if err != nil {
		return "", err
	}
	return t.ID, nil
}

// user is the native wire form of a user, with its lockout when locked.
type user struct {
	api.User
	LockedUntil string `json:"locked_until,omitempty"`
}

func (h *Handler) userOf(u usher.User) user {
	out := user{User: api.UserOf(u)}
	if t := h.accounts.LockedUntil(u); !t.IsZero() {
		out.LockedUntil = t.UTC().Format(api.TimeFormat)
	}
	return out
}

// list is GET /users: one user by ?email=, or a page of users.
func (h *Handler) list(w http.ResponseWriter, r *http.Request) error {
	tid, err := h.tenant(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if err := onlyParams(q, "email", "limit", "cursor", "q", "enabled", "confirmed", "locked", "created_after", "created_before", "count"); err != nil {
		return err
	}
	if q.Has("email") {
		if len(q) > 1 {
			return usher.Errorf(usher.Invalid, "email finds one user; it takes no other parameter.")
		}
		u, err := h.accounts.UserByEmail(r.Context(), tid, q.Get("email"))
		if err != nil {
			return err
		}
		api.WriteJSON(w, http.StatusOK, h.userOf(u))
		return nil
	}
	in := account.ListQuery{Cursor: q.Get("cursor"), Email: q.Get("q")}
	p := params{q: q}
	in.Limit = p.int("limit")
	in.Enabled, in.Confirmed, in.Locked = p.bool("enabled"), p.bool("confirmed"), p.bool("locked")
	in.CreatedAfter, in.CreatedBefore = p.time("created_after"), p.time("created_before")
	if c := p.bool("count"); c != nil {
		in.Count = *c
	}
	if p.err != nil {
		return p.err
	}
	page, err := h.accounts.ListUsers(r.Context(), tid, in)
	if err != nil {
		return err
	}
	body := struct {
		Users      []user  `json:"users"`
		NextCursor *string `json:"next_cursor"`
		Total      *int    `json:"total,omitempty"`
	}{Users: make([]user, len(page.Users)), Total: page.Total}
	for i, u := range page.Users {
		body.Users[i] = h.userOf(u)
	}
	if page.Next != "" {
		body.NextCursor = &page.Next
	}
	api.WriteJSON(w, http.StatusOK, body)
	return nil
}

// onlyParams refuses query parameters other than names, and repeated ones.
func onlyParams(q url.Values, names ...string) error {
	allowed := map[string]bool{}
	for _, n := range names {
		allowed[n] = true
	}
	for k, v := range q {
		if !allowed[k] {
			return usher.Errorf(usher.Invalid, "Unknown query parameter %q.", k)
		}
		if len(v) > 1 {
			return usher.Errorf(usher.Invalid, "Query parameter %q is given more than once.", k)
		}
	}
	return nil
}

// params parses query parameters, keeping the first error.
type params struct {
	q   url.Values
	err error
}

func (p *params) fail(name, want string) {
	if p.err == nil {
		p.err = usher.Errorf(usher.Invalid, "Query parameter %q must be %s.", name, want)
	}
}

func (p *params) int(name string) int {
	if !p.q.Has(name) {
		return 0
	}
	n, err := strconv.Atoi(p.q.Get(name))
	if err != nil || n < 1 {
		p.fail(name, "a positive integer")
	}
	return n
}

func (p *params) bool(name string) *bool {
	if !p.q.Has(name) {
		return nil
	}
	switch p.q.Get(name) {
	case "true":
		return new(true)
	case "false":
		return new(false)
	}
	p.fail(name, "true or false")
	return nil
}

func (p *params) time(name string) time.Time {
	if !p.q.Has(name) {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, p.q.Get(name))
	if err != nil {
		p.fail(name, "an RFC 3339 time, such as 2026-01-02T15:04:05Z")
	}
	return t
}

func (h *Handler) unlock(w http.ResponseWriter, r *http.Request) error {
	tid, err := h.tenant(r)
	if err != nil {
		return err
	}
	if err := h.accounts.Unlock(r.Context(), tid, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) sessions(w http.ResponseWriter, r *http.Request) error {
	tid, err := h.tenant(r)
	if err != nil {
		return err
	}
	ss, err := h.accounts.Sessions(r.Context(), tid, r.PathValue("id"))
	if err != nil {
		return err
	}
	body := struct {
		Sessions []api.Session `json:"sessions"`
	}{Sessions: make([]api.Session, len(ss))}
	for i, s := range ss {
		body.Sessions[i] = api.SessionOf(s)
	}
	api.WriteJSON(w, http.StatusOK, body)
	return nil
}

func (h *Handler) endSessions(w http.ResponseWriter, r *http.Request) error {
	tid, err := h.tenant(r)
	if err != nil {
		return err
	}
	if err := h.accounts.EndSessions(r.Context(), tid, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) endSession(w http.ResponseWriter, r *http.Request) error {
	tid, err := h.tenant(r)
	if err != nil {
		return err
	}
	if err := h.accounts.EndSession(r.Context(), tid, r.PathValue("id"), r.PathValue("sid")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// mfa is GET /users/{id}/mfa: whether the user signs in with a second
// factor.
func (h *Handler) mfa(w http.ResponseWriter, r *http.Request) error {
	tid, err := h.tenant(r)
	if err != nil {
		return err
	}
	on, err := h.accounts.HasTOTP(r.Context(), tid, r.PathValue("id"))
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, struct {
		TOTP bool `json:"totp"`
	}{on})
	return nil
}

// removeMFA is DELETE /users/{id}/mfa: the user's second factor and
// recovery codes go (a user who lost both).
func (h *Handler) removeMFA(w http.ResponseWriter, r *http.Request) error {
	tid, err := h.tenant(r)
	if err != nil {
		return err
	}
	if err := h.accounts.RemoveTOTP(r.Context(), tid, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
