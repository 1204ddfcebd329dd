package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/usher"
)

// The users table and a user's page with its actions.

const pageSize = 50

type usersView struct {
	Query     url.Values // the filters, to keep in the form and links
	Q         string
	Enabled   string
	Confirmed string
	Locked    string
	From, To  string
	Users     []userRow
	Next      string // the next page's URL, "" on the last
	Total     string
	First     bool
	Error     string
	TenRef    string
	// CountSkipped is set when the count ran out of its budget;
	// CountAllURL asks again without one.
	CountSkipped bool
	CountAllURL  string
}

// countBudget bounds the count of a listing: paging is cheap at any size,
// but counting a substring over a million users reads them all. A count
// over budget is left out, and the page offers to count anyway.
const countBudget = time.Second

// count counts what lq selects, within countBudget unless all.
func (c *Console) count(r *http.Request, tenantID string, lq account.ListQuery, all bool) (string, bool) {
	ctx := r.Context()
	if !all {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, countBudget)
		defer cancel()
	}
	lq.Count, lq.Limit, lq.Cursor = true, 1, ""
	p, err := c.c.Accounts.ListUsers(ctx, tenantID, lq)
	if err != nil || p.Total == nil {
		if r.Context().Err() == nil {
			c.c.Log.InfoContext(r.Context(), "console count skipped", "event", "admin_count_skipped", "error", err)
		}
		return "", true
	}
	return itoa(*p.Total), false
}

type userRow struct {
	usher.User
	Locked bool
}

// triState reads a yes/no filter: nil for any.
func triState(v string) (*bool, error) {
	switch v {
	case "":
		return nil, nil
	case "yes":
		t := true
		return &t, nil
	case "no":
		f := false
		return &f, nil
	}
	return nil, usher.Errorf(usher.Invalid, "A filter is yes, no or empty.")
}

// day reads a YYYY-MM-DD date (UTC); end moves it to the next day's start.
func day(v string, end bool) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		return time.Time{}, usher.Errorf(usher.Invalid, "Dates are YYYY-MM-DD.")
	}
	if end {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}

func (c *Console) usersPage(w http.ResponseWriter, r *http.Request) error {
	t, err := c.tenant(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	v := usersView{Query: q, Q: q.Get("q"), Enabled: q.Get("enabled"), Confirmed: q.Get("confirmed"), Locked: q.Get("locked"),
		From: q.Get("from"), To: q.Get("to"), First: q.Get("cursor") == "", TenRef: t.ID}
	lq := account.ListQuery{Limit: pageSize, Cursor: q.Get("cursor"), Email: v.Q}
	var errs []error
	var e error
	lq.Enabled, e = triState(v.Enabled)
	errs = append(errs, e)
	lq.Confirmed, e = triState(v.Confirmed)
	errs = append(errs, e)
	lq.Locked, e = triState(v.Locked)
	errs = append(errs, e)
	lq.CreatedAfter, e = day(v.From, false)
	errs = append(errs, e)
	lq.CreatedBefore, e = day(v.To, true)
	errs = append(errs, e)
	for _, e := range errs {
		if e != nil && v.Error == "" {
			v.Error = usher.ErrorMessage(e)
		}
	}
	all := url.Values{}
	for k, vs := range q {
		all[k] = vs
	}
	all.Set("count", "all")
	all.Set("t", t.ID)
	v.CountAllURL = "/users?" + all.Encode()
	status := http.StatusOK
	if v.Error == "" {
		p, err := c.c.Accounts.ListUsers(r.Context(), t.ID, lq)
		switch {
		case usher.ErrorCode(err) == usher.Invalid:
			v.Error, status = usher.ErrorMessage(err), http.StatusBadRequest
		case err != nil:
			return err
		default:
			for _, u := range p.Users {
				v.Users = append(v.Users, userRow{User: u, Locked: !c.c.Accounts.LockedUntil(u).IsZero()})
			}
			v.Total = q.Get("total")
			switch {
			case v.First && p.Next == "":
				v.Total = itoa(len(p.Users)) // one page holds them all: no count needed
			case v.First:
				v.Total, v.CountSkipped = c.count(r, t.ID, lq, q.Get("count") == "all")
			}
			if p.Next != "" {
				nq := url.Values{}
				for k, vs := range q {
					nq[k] = vs
				}
				nq.Set("cursor", p.Next)
				nq.Set("total", v.Total)
				nq.Set("t", t.ID)
				v.Next = "/users?" + nq.Encode()
			}
		}
	} else {
		status = http.StatusBadRequest
	}
	return c.render(w, r, status, "users", view{Title: "Users", Nav: "users", Tenant: t, PerTenant: true, Data: v})
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

type userView struct {
	User        usher.User
	LockedUntil time.Time
	Sessions    []usher.Session
	Data        string // formatted JSON, or what the admin sent when it was refused
	DataError   string
	MaxData     int
}

func (c *Console) userView(r *http.Request, t usher.Tenant, id string) (userView, error) {
	u, err := c.c.Accounts.User(r.Context(), t.ID, id)
	if err != nil {
		return userView{}, err
	}
	sessions, err := c.c.Accounts.Sessions(r.Context(), t.ID, id)
	if err != nil {
		return userView{}, err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, u.Data, "", "  "); err != nil {
		b.Reset()
		b.Write(u.Data)
	}
	return userView{User: u, LockedUntil: c.c.Accounts.LockedUntil(u), Sessions: sessions, Data: b.String(), MaxData: account.MaxDataBytes}, nil
}

func (c *Console) userPage(w http.ResponseWriter, r *http.Request) error {
	t, err := c.tenant(r)
	if err != nil {
		return err
	}
	v, err := c.userView(r, t, r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.render(w, r, http.StatusOK, "user", view{Title: v.User.Email, Nav: "users", Tenant: t, PerTenant: true, Data: v})
}

func userURL(t usher.Tenant, id string) string {
	return "/users/" + url.PathEscape(id) + "?t=" + url.QueryEscape(t.ID)
}

// userAction runs one action on a user and returns to its page with the
// outcome; the action says what it did.
func (c *Console) userAction(fn func(r *http.Request, tenantID, id string) (action, msg string, err error)) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		t, err := c.tenant(r)
		if err != nil {
			return err
		}
		id := r.PathValue("id")
		action, msg, err := fn(r, t.ID, id)
		c.logAction(r, action, id, err)
		if err != nil {
			if usher.ErrorCode(err) == usher.NotFound {
				return err
			}
			return c.failed(w, r, userURL(t, id), err)
		}
		return c.done(w, r, userURL(t, id), msg)
	}
}

// logAction writes the log line of an admin action on a target.
func (c *Console) logAction(r *http.Request, action, target string, err error) {
	who := whoOf(r)
	if err != nil {
		c.c.Log.InfoContext(r.Context(), "admin action refused", "event", "admin_action_failed", "action", action,
			"admin_id", who.Admin.ID, "target", target, "code", string(usher.ErrorCode(err)))
		return
	}
	c.c.Log.InfoContext(r.Context(), "admin action", "event", "admin_action", "action", action, "admin_id", who.Admin.ID, "target", target)
}

func (c *Console) setEmail(r *http.Request, tid, id string) (string, string, error) {
	return "user_email", "Email changed.", c.c.Accounts.SetEmail(r.Context(), tid, id, r.PostForm.Get("email"))
}

func yes(r *http.Request, field string) (bool, error) {
	switch r.PostForm.Get(field) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, usher.Errorf(usher.Invalid, "%s must be true or false.", field)
}

func (c *Console) setEnabled(r *http.Request, tid, id string) (string, string, error) {
	on, err := yes(r, "enabled")
	if err != nil {
		return "user_enabled", "", err
	}
	msg := "User enabled."
	if !on {
		msg = "User disabled; their sessions have ended."
	}
	return "user_enabled", msg, c.c.Accounts.SetEnabled(r.Context(), tid, id, on)
}

func (c *Console) setConfirmed(r *http.Request, tid, id string) (string, string, error) {
	on, err := yes(r, "confirmed")
	if err != nil {
		return "user_confirmed", "", err
	}
	msg := "Email marked confirmed."
	if !on {
		msg = "Email marked unconfirmed."
	}
	return "user_confirmed", msg, c.c.Accounts.SetConfirmed(r.Context(), tid, id, on)
}

func (c *Console) sendVerification(r *http.Request, tid, id string) (string, string, error) {
	return "user_send_verification", "Verification email queued.", c.c.Accounts.SendVerification(r.Context(), tid, id)
}

func (c *Console) sendReset(r *http.Request, tid, id string) (string, string, error) {
	u, err := c.c.Accounts.User(r.Context(), tid, id)
	if err != nil {
		return "user_send_reset", "", err
	}
	return "user_send_reset", "Password reset email queued.", c.c.Accounts.SendReset(r.Context(), tid, u.Email)
}

func (c *Console) unlock(r *http.Request, tid, id string) (string, string, error) {
	return "user_unlock", "Lockout cleared.", c.c.Accounts.Unlock(r.Context(), tid, id)
}

func (c *Console) endSessions(r *http.Request, tid, id string) (string, string, error) {
	if sid := r.PostForm.Get("session"); sid != "" {
		return "user_end_session", "Session ended.", c.c.Accounts.EndSession(r.Context(), tid, id, sid)
	}
	return "user_end_sessions", "Every session ended.", c.c.Accounts.EndSessions(r.Context(), tid, id)
}

// setData replaces a user's custom data. A refusal (not JSON, not an
// object, too large or too deep) shows the page again with the text the
// admin sent, so nothing typed is lost.
func (c *Console) setData(w http.ResponseWriter, r *http.Request) error {
	t, err := c.tenant(r)
	if err != nil {
		return err
	}
	id, raw := r.PathValue("id"), r.PostForm.Get("data")
	err = c.c.Accounts.SetData(r.Context(), t.ID, id, []byte(raw))
	c.logAction(r, "user_data", id, err)
	switch code := usher.ErrorCode(err); {
	case err == nil:
		return c.done(w, r, userURL(t, id), "Data saved.")
	case code == usher.NotFound:
		return err
	case code == usher.InvalidData || code == usher.InvalidJSON || code == usher.Invalid || code == usher.TooLarge:
		v, verr := c.userView(r, t, id)
		if verr != nil {
			return verr
		}
		v.Data, v.DataError = raw, usher.ErrorMessage(err)
		return c.render(w, r, http.StatusBadRequest, "user", view{Title: v.User.Email, Nav: "users", Tenant: t, PerTenant: true, Data: v})
	default:
		return err
	}
}

// deleteUser deletes a user once the admin typed its email again.
func (c *Console) deleteUser(w http.ResponseWriter, r *http.Request) error {
	t, err := c.tenant(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	u, err := c.c.Accounts.User(r.Context(), t.ID, id)
	if err != nil {
		return err
	}
	if r.PostForm.Get("confirm") != u.Email {
		err := usher.Errorf(usher.Invalid, "Not deleted: type the email address %s exactly to confirm.", u.Email)
		c.logAction(r, "user_delete", id, err)
		return c.failed(w, r, userURL(t, id), err)
	}
	err = c.c.Accounts.Delete(r.Context(), t.ID, id)
	c.logAction(r, "user_delete", id, err)
	if err != nil {
		return c.failed(w, r, userURL(t, id), err)
	}
	return c.done(w, r, "/users?t="+url.QueryEscape(t.ID), "User "+u.Email+" deleted.")
}
