package admin

import (
	"encoding/base64"
	"html/template"
	"net/http"

	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/usher"
)

// Sign-in, setup links, the install link, sign-out and the admin's own
// second factor.

type loginForm struct {
	Email    string
	NeedCode bool
	Error    string
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) error {
	return c.render(w, r, http.StatusOK, "login", view{Title: "Sign in", Pre: c.preToken(w, r), Data: loginForm{}})
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) error {
	f := r.PostForm
	in, err := c.c.Accounts.SignInAdmin(r.Context(), f.Get("email"), f.Get("password"), f.Get("code"))
	if err != nil {
		code := usher.ErrorCode(err)
		if code != usher.Unauthorized && code != usher.MFARequired {
			return err
		}
		form := loginForm{Email: f.Get("email"), NeedCode: code == usher.MFARequired || f.Get("code") != "", Error: usher.ErrorMessage(err)}
		return c.render(w, r, http.StatusUnauthorized, "login", view{Title: "Sign in", Pre: c.preToken(w, r), Data: form})
	}
	c.setCookie(w, "usher_admin", in.Token, 0)
	c.c.Log.InfoContext(r.Context(), "admin action", "event", "admin_action", "action", "sign_in", "admin_id", in.Admin.ID)
	to := "/users"
	if c.c.Accounts.AdminRules().RequireTOTP && !in.Admin.TOTPConfirmed {
		to = "/account"
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

type setupForm struct {
	Token   string
	Email   string
	Install bool
	Error   string
}

func (c *Console) setupPage(w http.ResponseWriter, r *http.Request) error {
	tok := r.URL.Query().Get("token")
	email, err := c.c.Accounts.AdminSetupEmail(r.Context(), tok)
	if err != nil {
		return err
	}
	return c.render(w, r, http.StatusOK, "setup", view{Title: "Choose a password", Pre: c.preToken(w, r),
		Data: setupForm{Token: tok, Email: email}})
}

func (c *Console) setup(w http.ResponseWriter, r *http.Request) error {
	f := r.PostForm
	a, err := c.c.Accounts.SetUpAdmin(r.Context(), f.Get("token"), f.Get("password"))
	if usher.ErrorCode(err) == usher.InvalidPassword {
		email, _ := c.c.Accounts.AdminSetupEmail(r.Context(), f.Get("token"))
		return c.render(w, r, http.StatusBadRequest, "setup", view{Title: "Choose a password", Pre: c.preToken(w, r),
			Data: setupForm{Token: f.Get("token"), Email: email, Error: usher.ErrorMessage(err)}})
	}
	if err != nil {
		return err
	}
	c.c.Log.InfoContext(r.Context(), "admin action", "event", "admin_action", "action", "set_up", "admin_id", a.ID)
	return c.done(w, r, "/login", "Your password is set: sign in.")
}

// installOpen reports whether the install link still works: given, and no
// admin exists yet.
func (c *Console) installOpen(r *http.Request, tok string) (bool, error) {
	if !equal(tok, c.c.InstallToken) {
		return false, nil
	}
	has, err := c.c.Accounts.HasAdmins(r.Context())
	return !has, err
}

var errInstall = usher.Errorf(usher.InvalidCode, "This install link is invalid, or an admin exists already (ask them, or run usher admin create).")

func (c *Console) installPage(w http.ResponseWriter, r *http.Request) error {
	tok := r.URL.Query().Get("token")
	ok, err := c.installOpen(r, tok)
	if err != nil {
		return err
	}
	if !ok {
		return errInstall
	}
	return c.render(w, r, http.StatusOK, "setup", view{Title: "Create the first admin", Pre: c.preToken(w, r),
		Data: setupForm{Token: tok, Install: true}})
}

func (c *Console) install(w http.ResponseWriter, r *http.Request) error {
	f := r.PostForm
	ok, err := c.installOpen(r, f.Get("token"))
	if err != nil {
		return err
	}
	if !ok {
		return errInstall
	}
	a, err := c.c.Accounts.CreateFirstAdmin(r.Context(), f.Get("email"), f.Get("password"))
	switch usher.ErrorCode(err) {
	case usher.InvalidPassword, usher.InvalidEmail:
		return c.render(w, r, http.StatusBadRequest, "setup", view{Title: "Create the first admin", Pre: c.preToken(w, r),
			Data: setupForm{Token: f.Get("token"), Email: f.Get("email"), Install: true, Error: usher.ErrorMessage(err)}})
	case "":
	default:
		return err
	}
	c.c.Log.InfoContext(r.Context(), "admin action", "event", "admin_action", "action", "install", "admin_id", a.ID)
	return c.done(w, r, "/login", "The first admin is created: sign in.")
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) error {
	who := whoOf(r)
	if err := c.c.Accounts.SignOutAdmin(r.Context(), c.cookie(r, "usher_admin")); err != nil && usher.ErrorCode(err) != usher.NotFound {
		return err
	}
	c.setCookie(w, "usher_admin", "", -1)
	c.c.Log.InfoContext(r.Context(), "admin action", "event", "admin_action", "action", "sign_out", "admin_id", who.Admin.ID)
	return c.done(w, r, "/login", "Signed out.")
}

type accountView struct {
	Required bool
	QR       template.URL
	Secret   string
	Error    string
}

func (c *Console) accountPage(w http.ResponseWriter, r *http.Request) error {
	return c.render(w, r, http.StatusOK, "account", view{Title: "Your account", Nav: "account",
		Data: accountView{Required: c.c.Accounts.AdminRules().RequireTOTP}})
}

func (c *Console) enrollTOTP(w http.ResponseWriter, r *http.Request) error {
	who := whoOf(r)
	k, err := c.c.Accounts.EnrollAdminTOTP(r.Context(), who.Admin.ID, r.PostForm.Get("password"))
	if err != nil {
		return c.failed(w, r, "/account", err)
	}
	c.c.Log.InfoContext(r.Context(), "admin action", "event", "admin_action", "action", "totp_enroll", "admin_id", who.Admin.ID)
	return c.render(w, r, http.StatusOK, "account", view{Title: "Your account", Nav: "account", Data: accountView{
		QR:     template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(k.PNG)),
		Secret: k.Secret,
	}})
}

func (c *Console) confirmTOTP(w http.ResponseWriter, r *http.Request) error {
	who := whoOf(r)
	err := c.c.Accounts.ConfirmAdminTOTP(r.Context(), who.Admin.ID, r.PostForm.Get("code"))
	if err != nil {
		if api.Status(usher.ErrorCode(err)) >= 500 {
			return err
		}
		return c.failed(w, r, "/account", err)
	}
	c.c.Log.InfoContext(r.Context(), "admin action", "event", "admin_action", "action", "totp_confirm", "admin_id", who.Admin.ID)
	c.setCookie(w, "usher_admin", "", -1)
	return c.done(w, r, "/login", "Two-factor sign-in is on. Sign in again with a code from your app.")
}
