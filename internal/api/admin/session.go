package admin

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/usher"
)

// maxForm bounds a form body: the largest custom data, escaped, with room
// for the other fields.
const maxForm = 512 << 10

type signedInKey struct{}

// signedIn is the admin and session of a request that passed the session
// guard.
type signedIn struct {
	Admin   usher.Admin
	Session usher.AdminSession
}

func whoOf(r *http.Request) signedIn {
	s, _ := r.Context().Value(signedInKey{}).(signedIn)
	return s
}

var (
	errSignIn   = usher.Errorf(usher.Unauthorized, "Your session has ended; sign in again.")
	errCSRF     = usher.Errorf(usher.Forbidden, "This request did not come from the console's own page (CSRF check failed); reload the page and try again.")
	errNeedTOTP = usher.Errorf(usher.Forbidden, "Turn on two-factor sign-in first (this server requires it).")
)

// cookieName is a cookie's name: with the __Host- prefix over TLS, which
// binds it to this host and path / with Secure set, so no other site
// (a sibling subdomain) can plant or shadow it.
func (c *Console) cookieName(base string) string {
	if c.c.Secure {
		return "__Host-" + base
	}
	return base
}

func (c *Console) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: c.cookieName(name), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.c.Secure, SameSite: http.SameSiteStrictMode,
	})
}

func (c *Console) cookie(r *http.Request, name string) string {
	k, err := r.Cookie(c.cookieName(name))
	if err != nil {
		return ""
	}
	return k.Value
}

// sameOrigin refuses a state change that a browser says came from another
// site: Sec-Fetch-Site other than same-origin, or an Origin that is not
// the console's own. Clients that send neither (curl) still need the CSRF
// token, which only the console's pages hold.
func (c *Console) sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		scheme := "http"
		if c.c.Secure {
			scheme = "https"
		}
		if o != scheme+"://"+r.Host && (c.c.Origin == "" || o != c.c.Origin) {
			return false
		}
	}
	return true
}

// parseForm reads a urlencoded form body, bounded.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" {
		return usher.Errorf(usher.MediaType, "Send the console's forms as application/x-www-form-urlencoded.")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return usher.Errorf(usher.TooLarge, "The form is too large or malformed.")
	}
	return nil
}

func stateChange(r *http.Request) bool {
	return r.Method != http.MethodGet && r.Method != http.MethodHead
}

// session is the guard of every signed-in page: a live session, a second
// factor when the server requires one, and on a state change the origin
// and the session's CSRF token.
func (c *Console) session() api.Guard {
	return api.Guard{Name: "admin-session", Check: func(w http.ResponseWriter, r *http.Request) (*http.Request, error) {
		return c.checkSession(w, r, true, true)
	}}
}

// sessionAllowingNoTOTP admits an admin without a second factor where
// they turn one on.
func (c *Console) sessionAllowingNoTOTP() api.Guard {
	return api.Guard{Name: "admin-session", Check: func(w http.ResponseWriter, r *http.Request) (*http.Request, error) {
		return c.checkSession(w, r, false, true)
	}}
}

// sessionMultipart checks the session and origin of an upload; its handler
// checks the CSRF token, the form's first part.
func (c *Console) sessionMultipart() api.Guard {
	return api.Guard{Name: "admin-session", Check: func(w http.ResponseWriter, r *http.Request) (*http.Request, error) {
		return c.checkSession(w, r, true, false)
	}}
}

func (c *Console) checkSession(w http.ResponseWriter, r *http.Request, needTOTP, form bool) (*http.Request, error) {
	if stateChange(r) && !c.sameOrigin(r) {
		c.c.Log.WarnContext(r.Context(), "console request refused", "event", "admin_csrf_refused", "reason", "origin", "path", r.URL.Path)
		return nil, errCSRF
	}
	a, x, err := c.c.Accounts.AdminSession(r.Context(), c.cookie(r, "usher_admin"))
	if usher.ErrorCode(err) == usher.Unauthorized {
		return nil, errSignIn
	}
	if err != nil {
		return nil, err
	}
	if stateChange(r) && form {
		if err := parseForm(w, r); err != nil {
			return nil, err
		}
		if !equal(r.PostForm.Get("csrf"), x.CSRF) {
			c.c.Log.WarnContext(r.Context(), "console request refused", "event", "admin_csrf_refused", "reason", "token",
				"admin_id", a.ID, "path", r.URL.Path)
			return nil, errCSRF
		}
	}
	if needTOTP && c.c.Accounts.AdminRules().RequireTOTP && !a.TOTPConfirmed {
		if !stateChange(r) {
			return nil, redirect("/account")
		}
		return nil, errNeedTOTP
	}
	ctx := context.WithValue(r.Context(), signedInKey{}, signedIn{Admin: a, Session: x})
	ctx = usher.WithActor(ctx, actor(a))
	return r.WithContext(ctx), nil
}

// preSession guards the sign-in, setup and install forms, posted before
// there is a session: the origin, and a double-submitted token (a cookie
// and a form field that the page set together) against login CSRF.
func (c *Console) preSession() api.Guard {
	return api.Guard{Name: "admin-pre-session", Check: func(w http.ResponseWriter, r *http.Request) (*http.Request, error) {
		if !c.sameOrigin(r) {
			return nil, errCSRF
		}
		if err := parseForm(w, r); err != nil {
			return nil, err
		}
		if !equal(r.PostForm.Get("pre"), c.cookie(r, "usher_pre")) {
			return nil, errCSRF
		}
		return r, nil
	}}
}

// preToken gives a form page its double-submit token.
func (c *Console) preToken(w http.ResponseWriter, r *http.Request) string {
	if v := c.cookie(r, "usher_pre"); len(v) >= 26 {
		return v
	}
	v := rand.Text()
	c.setCookie(w, "usher_pre", v, int((2 * time.Hour).Seconds()))
	return v
}

// redirectErr is a guard's answer that sends the browser elsewhere.
type redirectErr struct{ to string }

func (e redirectErr) Error() string { return "redirect to " + e.to }

func redirect(to string) error { return redirectErr{to: to} }

// flash is a one-time message for the next page, in a short cookie.
func (c *Console) flash(w http.ResponseWriter, kind, msg string) {
	c.setCookie(w, "usher_flash", base64.RawURLEncoding.EncodeToString([]byte(kind+"\x00"+msg)), 60)
}

// takeFlash reads and clears the flash message.
func (c *Console) takeFlash(w http.ResponseWriter, r *http.Request) (kind, msg string) {
	v := c.cookie(r, "usher_flash")
	if v == "" {
		return "", ""
	}
	c.setCookie(w, "usher_flash", "", -1)
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return "", ""
	}
	kind, msg, _ = strings.Cut(string(b), "\x00")
	if kind != "ok" && kind != "error" {
		return "", ""
	}
	return kind, msg
}
