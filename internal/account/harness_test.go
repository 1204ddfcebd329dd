package account_test

import (
	"context"
	"sync"
	"testing"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/account/accounttest"
	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/token"
	"github.com/usherhq/usher/internal/usher"
)

// tenant is the tenant every test works in.
const tenant = usher.DefaultTenantID

// Passwords that pass the test policy (8 to 128 characters, not common).
const (
	oldPassword   = "first-Secret-8451"
	newPassword   = "second-Secret-9362"
	wrongPassword = "not-the-Secret-0000"
)

// cheapParams make hashing fast enough for many rounds under -race.
var cheapParams = accounttest.CheapHash

// mail is one message the use cases queued, opened.
type mail = accounttest.Mail

// harness is a Service on a real SQLite file, with what tests need to look
// behind it.
type harness struct {
	env   *accounttest.Env
	svc   *account.Service
	store *store.Store
	clock *accounttest.Clock
	inbox []mail // drained from the outbox, not yet taken by mailTo
}

// newTestService returns a harness with accounttest's rules (lockout 3 in
// 15 minutes, reset codes for 30 minutes / 5 tries / 5 an hour,
// verification tokens for 24 hours, sessions for an hour); each option may
// change the config before the Service is built.
func newTestService(t *testing.T, opts ...func(*account.Config)) *harness {
	t.Helper()
	e := accounttest.New(t, opts...)
	return &harness{env: e, svc: e.Service, store: e.Store, clock: e.Clock}
}

// createUser creates an enabled, unconfirmed user.
func (h *harness) createUser(t *testing.T, email, pw string) usher.User {
	t.Helper()
	u, err := h.svc.Create(t.Context(), tenant, account.NewUser{Email: email, Password: pw, Enabled: true})
	if err != nil {
		t.Fatalf("Create(%q): %v", email, err)
	}
	return u
}

// user reads a user back through the Service.
func (h *harness) user(t *testing.T, id string) usher.User {
	t.Helper()
	u, err := h.svc.User(t.Context(), tenant, id)
	if err != nil {
		t.Fatalf("User(%s): %v", id, err)
	}
	return u
}

// check runs CheckPassword and fails the test on an error.
func (h *harness) check(t *testing.T, id, pw string) bool {
	t.Helper()
	ok, err := h.svc.CheckPassword(t.Context(), tenant, id, pw)
	if err != nil {
		t.Fatalf("CheckPassword: %v", err)
	}
	return ok
}

// login logs in and fails the test unless it succeeds.
func (h *harness) login(t *testing.T, email, pw string) string {
	t.Helper()
	tok, err := h.svc.Login(t.Context(), tenant, email, pw)
	if err != nil {
		t.Fatalf("Login(%q): %v", email, err)
	}
	return tok
}

// wantCode fails the test unless err carries code ("" for nil).
func wantCode(t *testing.T, what string, err error, code usher.Code) {
	t.Helper()
	if got := usher.ErrorCode(err); got != code {
		t.Errorf("%s: got error code %q (%v), want %q", what, got, err, code)
	}
}

// mailTo returns, oldest first, the messages queued for email since the
// last call, and takes them from the harness: it drains the outbox
// (claiming each message and marking it sent, so a clock moved past the
// claim lease does not bring it back) and opens each message's sealed
// params. How params are sealed is known here and nowhere else.
func mailTo(t *testing.T, h *harness, email string) []mail {
	t.Helper()
	h.inbox = append(h.inbox, h.env.Mail(t)...)
	var out, rest []mail
	for _, m := range h.inbox {
		if m.To == email {
			out = append(out, m)
		} else {
			rest = append(rest, m)
		}
	}
	h.inbox = rest
	return out
}

// onlyMail returns the one message queued for email, which must be of kind.
func onlyMail(t *testing.T, h *harness, email, kind string) mail {
	t.Helper()
	got := mailTo(t, h, email)
	if len(got) != 1 || got[0].Kind != kind {
		t.Fatalf("mail to %s: got %+v, want one %s message", email, got, kind)
	}
	return got[0]
}

// sendReset asks for a reset code for email and returns it, from the email.
func (h *harness) sendReset(t *testing.T, email string) string {
	t.Helper()
	if err := h.svc.SendReset(t.Context(), tenant, email); err != nil {
		t.Fatalf("SendReset(%q): %v", email, err)
	}
	m := onlyMail(t, h, email, usher.MailReset)
	if len(m.Params.Code) != token.CodeLen {
		t.Fatalf("reset code %q: got %d characters, want %d", m.Params.Code, len(m.Params.Code), token.CodeLen)
	}
	return m.Params.Code
}

// sendVerification issues a verification token for u and returns it, as
// the verification email carries it: the email is the token's one channel.
func (h *harness) sendVerification(t *testing.T, u usher.User) string {
	t.Helper()
	if err := h.svc.SendVerification(t.Context(), tenant, u.ID); err != nil {
		t.Fatalf("SendVerification: %v", err)
	}
	m := onlyMail(t, h, u.Email, usher.MailVerify)
	if m.Params.Token == "" || m.Params.Email != u.Email {
		t.Fatalf("verification email params: got %+v, want a token for %s", m.Params, u.Email)
	}
	return m.Params.Token
}

// liveToken returns the live verification token of the user at email ("" for
// none), as the email-addressed use cases report it.
func (h *harness) liveToken(t *testing.T, email string) string {
	t.Helper()
	rec, err := h.svc.ReadUser(t.Context(), tenant, account.Access{Email: email})
	if err != nil {
		t.Fatalf("ReadUser(%q): %v", email, err)
	}
	return rec.VerifyToken
}

// sessionLives fails the test unless the session authenticates as want says.
func sessionLives(t *testing.T, h *harness, session string, want bool) {
	t.Helper()
	_, _, err := h.svc.Authenticate(t.Context(), tenant, session)
	if got := err == nil; got != want {
		t.Errorf("session authenticates: got %v (%v), want %v", got, err, want)
	}
}

// codeWorks fails the test unless the reset code sets newPassword at email
// as want says. Run it last: a working code changes the password.
func codeWorks(t *testing.T, h *harness, email, code string, want bool) {
	t.Helper()
	err := h.svc.ResetPassword(t.Context(), tenant, email, code, newPassword)
	if got := err == nil; got != want {
		t.Errorf("reset code works: got %v (%v), want %v", got, err, want)
	}
}

// setStoredHash overwrites u's stored password hash, as an import or an
// older release would have left it. No use case writes an arbitrary hash,
// so this goes to the store; it is the one place that does.
func (h *harness) setStoredHash(t *testing.T, userID, hash string) {
	t.Helper()
	err := h.store.Update(t.Context(), func(ctx context.Context, tx account.Tx) error {
		u, err := tx.LockUser(ctx, tenant, userID)
		if err != nil {
			return err
		}
		u.Hash = hash
		return tx.UpdateUser(ctx, &u)
	})
	if err != nil {
		t.Fatalf("writing the stored hash: %v", err)
	}
}

// pausingStore runs a pause, once, right after the next read of a user
// outside a transaction (UserByID or UserByEmail) or after the next
// transaction: between the moment a use case reads a user, or reserves a
// password check on it, and the moment its last transaction locks it.
type pausingStore struct {
	account.Store
	mu          sync.Mutex
	afterRead   func()
	afterUpdate func()
}

// newPausingService returns a harness whose Service runs on a pausingStore.
func newPausingService(t *testing.T) (*harness, *pausingStore) {
	t.Helper()
	ps := &pausingStore{}
	h := newTestService(t, func(c *account.Config) {
		ps.Store = c.Store
		c.Store = ps
	})
	return h, ps
}

// pauseAfterRead makes f run right after the next user read.
func (s *pausingStore) pauseAfterRead(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.afterRead = f
}

// pauseAfterUpdate makes f run right after the next transaction ends; in a
// password check that is the one reserving the attempt.
func (s *pausingStore) pauseAfterUpdate(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.afterUpdate = f
}

// run takes the pause *f and runs it, outside the lock: what it runs may
// use the store.
func (s *pausingStore) run(f *func()) {
	s.mu.Lock()
	pause := *f
	*f = nil
	s.mu.Unlock()
	if pause != nil {
		pause()
	}
}

func (s *pausingStore) UserByID(ctx context.Context, tenantID, id string) (usher.User, error) {
	u, err := s.Store.UserByID(ctx, tenantID, id)
	s.run(&s.afterRead)
	return u, err
}

func (s *pausingStore) UserByEmail(ctx context.Context, tenantID, emailKey string) (usher.User, error) {
	u, err := s.Store.UserByEmail(ctx, tenantID, emailKey)
	s.run(&s.afterRead)
	return u, err
}

func (s *pausingStore) Update(ctx context.Context, fn func(context.Context, account.Tx) error) error {
	err := s.Store.Update(ctx, fn)
	s.run(&s.afterUpdate)
	return err
}

// pausePoints are the two moments a change can land inside a password
// check: after the user is read, and after the attempt is reserved (while
// the password is verified).
var pausePoints = []struct {
	name  string
	pause func(*pausingStore, func())
}{
	{name: "after the read", pause: (*pausingStore).pauseAfterRead},
	{name: "after the reservation", pause: (*pausingStore).pauseAfterUpdate},
}
