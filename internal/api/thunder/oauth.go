package thunder

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/usher"
)

// bearerChallenge is the challenge Thunder's OAuth filter (Dropwizard's,
// with its default realm) sends.
const bearerChallenge = `Bearer realm="realm"`

// Bearer admits requests whose "Authorization: Bearer <jwt>" the OAuth
// verifier accepts; others get Thunder's 401. As in Thunder, a request
// without a token is refused without being counted; every token given is
// timed and counted as a success or a failure. A token in the query
// (Dropwizard's access_token parameter) is not read: URLs end up in logs.
func (h *Handler) Bearer() api.Guard {
	return api.Guard{Name: "thunder-oauth", Check: func(w http.ResponseWriter, r *http.Request) (*http.Request, error) {
		raw, given := bearerToken(r.Header.Get("Authorization"))
		var sub string
		ok := false
		if given {
			t0 := time.Now()
			var err error
			sub, err = h.c.OAuth.Verify(raw)
			ok = err == nil
			h.c.Recorder.Time(TimerJWT, time.Since(t0))
			if ok {
				h.c.Recorder.Count(CounterJWTSuccess)
			} else {
				h.c.Recorder.Count(CounterJWTFailure)
			}
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", bearerChallenge)
			return nil, &thunderError{err: usher.Errorf(usher.Unauthorized, msgNoCredentials), msg: msgNoCredentials, bare: true}
		}
		ctx := usher.WithActor(r.Context(), "thunder-oauth:"+actorName(sub))
		return r.WithContext(context.WithValue(ctx, tenantKey{}, h.tenantID)), nil
	}}
}

// bearerToken splits "Bearer <token>" (the scheme in any case); given is
// false when there is no token to check.
func bearerToken(header string) (string, bool) {
	scheme, tok, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// actorName keeps a token's subject fit for the audit log: printable and
// short.
func actorName(sub string) string {
	const max = 128
	var b strings.Builder
	for _, r := range sub {
		if b.Len() >= max {
			break
		}
		if r < 0x20 || r == 0x7f {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}
