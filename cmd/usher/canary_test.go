package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/token"
	"github.com/usherhq/usher/internal/usher"
)

// canarySecrets names the secrets a flow handled, for the log check.
type canarySecrets struct {
	names  []string
	values []string
}

func (c *canarySecrets) add(name, value string) {
	if value == "" {
		panic("empty secret " + name)
	}
	c.names = append(c.names, name)
	c.values = append(c.values, value)
}

// addToken adds a JWT and its signature part.
func (c *canarySecrets) addToken(name, tok string) {
	c.add(name, tok)
	c.add(name+" signature", tok[strings.LastIndex(tok, ".")+1:])
}

// addHash adds a user's current password hash (PHC string and digest).
func (c *canarySecrets) addHash(t testing.TB, s *testServer, name, id string) {
	t.Helper()
	u, err := s.Store.UserByID(t.Context(), s.Tenant.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	c.add(name+" hash", u.Hash)
	c.add(name+" hash digest", u.Hash[strings.LastIndex(u.Hash, "$")+1:])
}

// addBytes adds key material in the encodings a log line could carry.
func (c *canarySecrets) addBytes(name string, b []byte) {
	c.add(name+" (base64)", base64.StdEncoding.EncodeToString(b))
	c.add(name+" (base64url)", base64.RawURLEncoding.EncodeToString(b))
	c.add(name+" (hex)", hex.EncodeToString(b))
}

// TestCanaryNoSecretsInLogs runs every flow that handles a secret, with
// request logging on and the mail relay sending over SMTP, and then looks
// for each secret in everything Usher wrote.
func TestCanaryNoSecretsInLogs(t *testing.T) {
	logs, out := &syncBuffer{}, &syncBuffer{}
	var secrets canarySecrets

	// Registered before startServer, so it runs after Usher has closed:
	// by then every background job has stopped and written its last line.
	t.Cleanup(func() {
		all := logs.String()
		for _, event := range []string{`"event":"http_request"`, `"event":"login_failed"`, `"event":"password_reset"`, `"event":"email_sent"`, `"event":"stopped"`} {
			if !strings.Contains(all, event) {
				t.Errorf("the log has no %s line: the capture missed part of the flow", event)
			}
		}
		for i, v := range secrets.values {
			for where, text := range map[string]string{"the log": all, "the terminal output": out.String()} {
				if strings.Contains(text, v) {
					t.Errorf("%s holds the %s", where, secrets.names[i])
				}
			}
		}
		if t.Failed() {
			t.Logf("log:\n%s", all)
		}
	})

	sink := startSMTPSink(t)
	s := startServer(t, sink.Configure, func(m *Main) {
		m.Log = slog.New(api.LogHandler{Handler: slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})})
		m.Out = out
		m.Config.LogRequests = true
	})
	pub, be := s.PublicAPI, s.BackendAPI
	canary := func(name string) string {
		pw := "canary-PASSWORD-" + rand.Text()
		secrets.add(name, pw)
		return pw
	}

	// Public surface: register, login, wrong logins, me.
	const email = "canary@example.com"
	regPw := canary("registered password")
	regTok := pub.mustRegister(t, email, regPw)
	secrets.addToken("register token", regTok)
	id := jwtSubject(t, regTok)
	secrets.addHash(t, s, "registered password", id)
	loginTok := pub.mustLogin(t, email, regPw)
	secrets.addToken("login token", loginTok)
	pub.login(t, email, canary("wrong password")).wantNativeError(t, "wrong login", http.StatusUnauthorized, usher.Unauthorized)
	pub.login(t, "nobody@example.com", canary("unknown user's password")).wantNativeError(t, "unknown login", http.StatusUnauthorized, usher.Unauthorized)
	tooLong := canary("too long password") + strings.Repeat("x", 200)
	pub.register(t, "long@example.com", tooLong).wantNativeError(t, "too long register", http.StatusBadRequest, usher.InvalidPassword)
	pub.wantMe(t, "login token", loginTok)

	// Password reset: a wrong code, then the right one.
	code := sink.requestResetCode(t, pub, email, 1)
	secrets.add("reset code", code)
	wrong := token.NewCode()
	for wrong == code {
		wrong = token.NewCode()
	}
	secrets.add("wrong reset code", wrong)
	resetPw := canary("reset password")
	pub.passwordReset(t, email, wrong, resetPw).wantNativeError(t, "reset with a wrong code", http.StatusBadRequest, usher.InvalidCode)
	pub.passwordReset(t, email, code, resetPw).wantTrue(t, "reset")
	secrets.addHash(t, s, "reset password", id)
	sink.waitMessages(t, email, changedSubject, 1)
	secrets.addToken("token after reset", pub.mustLogin(t, email, resetPw))

	// Backend surface: create, check the password (right and wrong), set it.
	backendPw := canary("backend password")
	r := be.do(t, "POST", "/users", mustJSON(t, map[string]string{"email": "canary-backend@example.com", "password": backendPw})).wantStatus(t, "backend POST /users", http.StatusCreated)
	bid := r.Header.Get("X-Object-ID")
	secrets.addHash(t, s, "backend password", bid)
	for pw, want := range map[string]string{backendPw: `{"result":true}`, canary("wrong checkpw password"): `{"result":false}`} {
		r := be.do(t, "POST", "/users/"+bid+"/checkpw", mustJSON(t, map[string]string{"password": pw})).wantStatus(t, "backend POST /users/"+bid+"/checkpw", http.StatusOK)
		if got := string(bytes.TrimSpace(r.Body)); got != want {
			t.Errorf("checkpw: got %s, want %s", got, want)
		}
	}
	setPw := canary("set password")
	be.setPassword(t, bid, setPw).wantStatus(t, "backend set password", http.StatusNoContent)
	secrets.addHash(t, s, "set password", bid)

	// Key material at rest: the data key and the signing keys.
	raw, err := os.ReadFile(filepath.Join(s.Config.Data, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	secrets.add("secret key file", strings.TrimSpace(string(raw)))
	dataKey, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	secrets.addBytes("data key", dataKey)
	stored, err := s.Store.SigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range stored {
		secrets.add("sealed signing key "+k.KID, k.Private)
	}
	for kid, k := range signingKeys(t, s) {
		secrets.addBytes("signing key seed "+kid, k.priv.Seed())
	}
}
