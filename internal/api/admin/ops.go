package admin

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/usher"
)

// Tenants, signing keys, the email queue and the activity charts.

func (c *Console) tenantsPage(w http.ResponseWriter, r *http.Request) error {
	return c.render(w, r, http.StatusOK, "tenants", view{Title: "Tenants", Nav: "tenants"})
}

func (c *Console) createTenant(w http.ResponseWriter, r *http.Request) error {
	t, err := c.c.Accounts.CreateTenant(r.Context(), r.PostForm.Get("name"))
	c.logAction(r, "tenant_create", t.ID, err)
	if err != nil {
		return c.failed(w, r, "/tenants", err)
	}
	return c.done(w, r, "/tenants", "Tenant "+t.Name+" created.")
}

func (c *Console) rotateTenantKey(w http.ResponseWriter, r *http.Request) error {
	overlap, err := time.ParseDuration(r.PostForm.Get("overlap"))
	if err != nil || overlap < 0 {
		return c.failed(w, r, "/tenants", usher.Errorf(usher.Invalid, "The overlap is a duration such as 24h or 0s."))
	}
	t, err := c.c.Accounts.RotateTenantKey(r.Context(), r.PathValue("id"), overlap)
	c.logAction(r, "tenant_rotate_key", r.PathValue("id"), err)
	if err != nil {
		return c.failed(w, r, "/tenants", err)
	}
	return c.done(w, r, "/tenants", "Tenant "+t.Name+" has a new public key; the old one works for "+overlap.String()+".")
}

// deleteTenant deletes a tenant, with its users, once the admin typed its
// name again.
func (c *Console) deleteTenant(w http.ResponseWriter, r *http.Request) error {
	t, err := c.c.Accounts.Tenant(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if r.PostForm.Get("confirm") != t.Name {
		err := usher.Errorf(usher.Invalid, "Not deleted: type the tenant's name %s exactly to confirm.", t.Name)
		c.logAction(r, "tenant_delete", t.ID, err)
		return c.failed(w, r, "/tenants", err)
	}
	err = c.c.Accounts.DeleteTenant(r.Context(), t.ID, true)
	c.logAction(r, "tenant_delete", t.ID, err)
	if err != nil {
		return c.failed(w, r, "/tenants", err)
	}
	return c.done(w, r, "/tenants", "Tenant "+t.Name+" and its users deleted.")
}

type keyRow struct {
	Key
	Age     string
	Current bool
}

func (c *Console) keysPage(w http.ResponseWriter, r *http.Request) error {
	keys, err := c.c.Keys.List(r.Context())
	if err != nil {
		return err
	}
	now := c.c.Now()
	rows := make([]keyRow, len(keys))
	newest := -1
	for i, k := range keys {
		rows[i] = keyRow{Key: k, Age: age(now.Sub(k.CreatedAt))}
		if k.RetiredAt.IsZero() && (newest < 0 || k.CreatedAt.After(keys[newest].CreatedAt)) {
			newest = i
		}
	}
	if newest >= 0 {
		rows[newest].Current = true
	}
	// Newest first: the key that signs now heads the list.
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
	return c.render(w, r, http.StatusOK, "keys", view{Title: "Signing keys", Nav: "keys", Data: rows})
}

func (c *Console) rotateKey(w http.ResponseWriter, r *http.Request) error {
	kid, err := c.c.Keys.Rotate(r.Context())
	c.logAction(r, "key_rotate", kid, err)
	if err != nil {
		return err
	}
	if err := c.c.Accounts.KeyRotated(r.Context(), kid); err != nil {
		return err
	}
	return c.done(w, r, "/keys", "New signing key "+kid+"; every node signs with it within 30 seconds.")
}

type emailView struct {
	State    string
	States   []string
	Messages []usher.QueuedMessage
	Max      int
}

func (c *Console) emailPage(w http.ResponseWriter, r *http.Request) error {
	t, err := c.tenant(r)
	if err != nil {
		return err
	}
	state := r.URL.Query().Get("state")
	if state == "" {
		state = usher.QueueFailed
	}
	ms, err := c.c.Accounts.QueuedMessages(r.Context(), t.ID, state)
	if err != nil {
		return err
	}
	return c.render(w, r, http.StatusOK, "email", view{Title: "Email queue", Nav: "email", Tenant: t, PerTenant: true, Data: emailView{
		State: state, States: []string{usher.QueuePending, usher.QueueFailed, usher.QueueAbandoned}, Messages: ms, Max: account.MaxQueueList,
	}})
}

func (c *Console) emailBack(t usher.Tenant, r *http.Request) string {
	return "/email?t=" + url.QueryEscape(t.ID) + "&state=" + url.QueryEscape(r.PostForm.Get("state"))
}

func (c *Console) retryEmail(w http.ResponseWriter, r *http.Request) error {
	t, err := c.tenant(r)
	if err != nil {
		return err
	}
	err = c.c.Accounts.RetryMessage(r.Context(), t.ID, r.PathValue("id"))
	c.logAction(r, "email_retry", r.PathValue("id"), err)
	if err != nil {
		return c.failed(w, r, c.emailBack(t, r), err)
	}
	return c.done(w, r, c.emailBack(t, r), "The message is due now; the relay sends it shortly.")
}

func (c *Console) discardEmail(w http.ResponseWriter, r *http.Request) error {
	t, err := c.tenant(r)
	if err != nil {
		return err
	}
	err = c.c.Accounts.DiscardMessage(r.Context(), t.ID, r.PathValue("id"))
	c.logAction(r, "email_discard", r.PathValue("id"), err)
	if err != nil {
		return c.failed(w, r, c.emailBack(t, r), err)
	}
	return c.done(w, r, c.emailBack(t, r), "Message discarded.")
}

// chart is one bar chart of the activity page, drawn as SVG on the server
// (no script, nothing inline that the CSP forbids).
type chart struct {
	Title  string
	Class  string // the series' colour, from the stylesheet
	Total  int
	Max    int
	Bars   []bar
	Width  int
	Height int
	First  string
	Last   string
}

type bar struct {
	X, Y, W, H int
	Label      string
}

var chartTitles = map[string]string{
	account.AuditUserCreated:    "Registrations and new users",
	account.AuditLoginSucceeded: "Logins succeeded",
	account.AuditLoginFailed:    "Logins failed",
	account.AuditLockoutStarted: "Lockouts",
	account.AuditResetCompleted: "Password resets",
}

type activityView struct {
	Range  string
	Charts []chart
	Pool   PoolLoad
}

func (c *Console) activityPage(w http.ResponseWriter, r *http.Request) error {
	t, err := c.tenant(r)
	if err != nil {
		return err
	}
	rng := r.URL.Query().Get("range")
	bucket, n, format := time.Hour, 48, "Jan 2 15:04"
	if rng == "days" {
		bucket, n, format = 24*time.Hour, 30, "Jan 2"
	} else {
		rng = "hours"
	}
	a, err := c.c.Accounts.Activity(r.Context(), t.ID, bucket, n)
	if err != nil {
		return err
	}
	v := activityView{Range: rng}
	if c.c.Pool != nil {
		v.Pool = c.c.Pool()
	}
	for i, typ := range account.ActivityTypes {
		series := a.Series[typ]
		ch := chart{Title: chartTitles[typ], Class: "s" + strconv.Itoa(i), Width: 720, Height: 120,
			First: a.Start.Format(format), Last: a.Start.Add(time.Duration(n-1) * bucket).Format(format)}
		for _, v := range series {
			ch.Total += v
			ch.Max = max(ch.Max, v)
		}
		bw := ch.Width / n
		for j, v := range series {
			h := 0
			if ch.Max > 0 {
				h = v * (ch.Height - 4) / ch.Max
			}
			if v > 0 && h == 0 {
				h = 1
			}
			ch.Bars = append(ch.Bars, bar{X: j * bw, Y: ch.Height - h, W: max(bw-1, 1), H: h,
				Label: a.Start.Add(time.Duration(j)*bucket).Format(format) + ": " + strconv.Itoa(v)})
		}
		v.Charts = append(v.Charts, ch)
	}
	return c.render(w, r, http.StatusOK, "activity", view{Title: "Activity", Nav: "activity", Tenant: t, PerTenant: true, Data: v})
}
