package admin

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/usher"
)

// pages holds the parsed templates, one set per page (the layout with the
// page's own file).
type pages struct {
	sets map[string]*template.Template
}

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"ago": func(t time.Time) string { return age(time.Since(t)) },
	"q":   url.QueryEscape,
}

// age renders a duration as people read it: 3 d, 5 h, 12 min.
func age(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	case d >= 2*time.Minute:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	}
	return "just now"
}

func loadPages() (*pages, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{sets: map[string]*template.Template{}}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("admin: template %s: %w", base, err)
		}
		p.sets[strings.TrimSuffix(base, ".html")] = t
	}
	return p, nil
}

// view is what every page template gets.
type view struct {
	Title     string
	Nav       string // the menu entry to mark current
	Admin     *usher.Admin
	CSRF      string
	Pre       string // the double-submit token of pre-session forms
	Tenants   []usher.Tenant
	Tenant    usher.Tenant // the page's tenant, when it is per tenant
	PerTenant bool
	Flash     string
	FlashKind string
	Data      any
}

// render writes page name with status.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) error {
	t := c.pages.sets[name]
	if t == nil {
		return usher.Wrap(usher.Internal, "", fmt.Errorf("admin: no page %q", name))
	}
	if who := whoOf(r); who.Admin.ID != "" {
		v.Admin, v.CSRF = &who.Admin, who.Session.CSRF
		if v.Tenants == nil {
			ts, err := c.c.Accounts.Tenants(r.Context())
			if err != nil {
				return err
			}
			v.Tenants = ts
		}
	}
	if v.Flash == "" {
		v.FlashKind, v.Flash = c.takeFlash(w, r)
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout.html", v); err != nil {
		return usher.Wrap(usher.Internal, "", err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write(b.Bytes())
	return err
}

// tenant is the tenant a per-tenant page works in: ?t= (an id or name),
// else the default one.
func (c *Console) tenant(r *http.Request) (usher.Tenant, error) {
	ref := r.URL.Query().Get("t")
	if ref == "" {
		ref = usher.DefaultTenantID
	}
	t, err := c.c.Accounts.Tenant(r.Context(), ref)
	if usher.ErrorCode(err) == usher.NotFound {
		return usher.Tenant{}, usher.Errorf(usher.NotFound, "No such tenant.")
	}
	return t, err
}

// renderError answers an error: a redirect to sign in for a page that
// needs a session, else a page that says what went wrong (JSON for the
// import's script).
func (c *Console) renderError(w http.ResponseWriter, r *http.Request, status int, code usher.Code, err error) {
	var re redirectErr
	if errors.As(err, &re) {
		http.Redirect(w, r, re.to, http.StatusSeeOther)
		return
	}
	if code == usher.Unauthorized && !stateChange(r) {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	msg := usher.ErrorMessage(err)
	if code == usher.Internal || msg == "" {
		msg = "An internal error occurred; the server's log has the details."
	}
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		api.RenderNative(w, r, status, code, err)
		return
	}
	v := view{Title: http.StatusText(status), Data: struct {
		Status  int
		Message string
	}{status, msg}}
	if rerr := c.render(w, r, status, "error", v); rerr != nil {
		http.Error(w, msg, status)
	}
}

func (c *Console) noRoute(w http.ResponseWriter, r *http.Request, status int) {
	code := usher.NotFound
	if status == http.StatusMethodNotAllowed {
		code = usher.MethodNotAllow
	}
	c.renderError(w, r, status, code, usher.Errorf(code, "There is no such page."))
}

// serveAsset serves the embedded stylesheet and script.
func serveAsset(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("file")
	b, err := assetFS.ReadFile("assets/" + name)
	if err != nil {
		return usher.Errorf(usher.NotFound, "No such file.")
	}
	switch path.Ext(name) {
	case ".css":
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case ".js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	default:
		return usher.Errorf(usher.NotFound, "No such file.")
	}
	// The assets change with the binary: a short cache suffices.
	w.Header().Set("Cache-Control", "private, max-age=300")
	_, err = w.Write(b)
	return err
}

// done sends the browser to the next page with a message.
func (c *Console) done(w http.ResponseWriter, r *http.Request, to, msg string) error {
	c.flash(w, "ok", msg)
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// failed sends the browser back with the reason an action was refused;
// an internal or unavailable error is answered as such.
func (c *Console) failed(w http.ResponseWriter, r *http.Request, to string, err error) error {
	if api.Status(usher.ErrorCode(err)) >= 500 {
		return err
	}
	c.flash(w, "error", usher.ErrorMessage(err))
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}
