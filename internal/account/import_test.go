package account_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/account/accounttest"
	"github.com/usherhq/usher/internal/usher"
)

// Import: users brought in from another system in batches.

// runImport imports batch into the default tenant and returns its results
// and their summary.
func runImport(t *testing.T, e *accounttest.Env, batch []account.ImportUser, on account.OnConflict) ([]account.ImportResult, account.ImportSummary) {
	t.Helper()
	res, err := e.Service.Import(t.Context(), e.Tenant.ID, batch, on)
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if len(res) != len(batch) {
		t.Fatalf("Import: got %d results for %d lines", len(res), len(batch))
	}
	var sum account.ImportSummary
	for i, r := range res {
		if r.Line != batch[i].Line {
			t.Errorf("result %d: line %d, want %d", i, r.Line, batch[i].Line)
		}
		if (r.Outcome == account.Refused) != (r.Err != nil) {
			t.Errorf("line %d: outcome %s with error %v", r.Line, r.Outcome, r.Err)
		}
		sum.Add(r)
	}
	return res, sum
}

// bcryptHash hashes pw with bcrypt, as another system would have.
func bcryptHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatalf("bcrypt: %v", err)
	}
	return string(h)
}

// byEmailOf reads the default tenant's user of an address.
func byEmailOf(t *testing.T, e *accounttest.Env, email string) usher.User {
	t.Helper()
	u, err := e.Service.UserByEmail(t.Context(), e.Tenant.ID, email)
	if err != nil {
		t.Fatalf("UserByEmail(%q): %v", email, err)
	}
	return u
}

// sameUser fails the test when got and want differ in a stored field.
func sameUser(t *testing.T, what string, got, want usher.User) {
	t.Helper()
	if got.ID != want.ID || got.Email != want.Email || got.Hash != want.Hash || got.Confirmed != want.Confirmed ||
		got.Enabled != want.Enabled || string(got.Data) != string(want.Data) || !got.CreatedAt.Equal(want.CreatedAt) ||
		!got.UpdatedAt.Equal(want.UpdatedAt) || got.FailedChecks != want.FailedChecks {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
	}
}

func TestImportLines(t *testing.T) {
	e := accounttest.New(t)
	taken := mustCreate(t, e, "taken@example.com", oldPassword)
	e.Clock.Advance(time.Minute)
	batch := []account.ImportUser{
		{Line: 1, Email: "plain@example.com", Password: oldPassword, Enabled: true},
		{Line: 2, Email: "hashed@example.com", Hash: bcryptHash(t, oldPassword), Enabled: true, Confirmed: true},
		{Line: 3, Email: "taken@example.com", Password: newPassword, Enabled: true},
		{Line: 4, Email: "not an address", Password: oldPassword},
		{Line: 5, Email: "both@example.com", Password: oldPassword, Hash: bcryptHash(t, oldPassword)},
		{Line: 6, Email: "neither@example.com"},
		{Line: 7, Email: "badid@example.com", Password: oldPassword, ID: "123"},
		{Line: 8, Email: "PLAIN@Example.com", Password: newPassword},
		{Line: 9, Email: "badhash@example.com", Hash: "$md5$nope"},
		{Line: 10, Email: "baddata@example.com", Password: oldPassword, Data: []byte(`[1]`)},
		{Line: 11, Email: "future@example.com", Password: oldPassword, CreatedAt: e.Clock.Now().Add(time.Hour)},
		{Line: 12, Email: "long@example.com", Password: strings.Repeat("p", 129)},
		{Line: 13, Email: "short@example.com", Password: "x", Enabled: true}, // under the policy's minimum: imported
	}
	res, sum := runImport(t, e, batch, account.ConflictSkip)
	want := []struct {
		outcome account.Outcome
		code    usher.Code
	}{
		{account.Created, ""},
		{account.Created, ""},
		{account.Skipped, ""},
		{account.Refused, usher.InvalidEmail},
		{account.Refused, usher.Invalid},
		{account.Refused, usher.Invalid},
		{account.Refused, usher.Invalid},
		{account.Refused, usher.EmailTaken},
		{account.Refused, usher.Invalid},
		{account.Refused, usher.InvalidData},
		{account.Refused, usher.Invalid},
		{account.Refused, usher.InvalidPassword},
		{account.Created, ""},
	}
	for i, w := range want {
		if res[i].Outcome != w.outcome || usher.ErrorCode(res[i].Err) != w.code {
			t.Errorf("line %d: got %s (%v), want %s with code %q", res[i].Line, res[i].Outcome, res[i].Err, w.outcome, w.code)
		}
	}
	if msg := usher.ErrorMessage(res[7].Err); !strings.Contains(msg, "line 1") {
		t.Errorf("line 8, the address of line 1 again: message %q does not name line 1", msg)
	}
	if wantSum := (account.ImportSummary{Created: 3, Skipped: 1, Refused: 9}); sum != wantSum {
		t.Errorf("summary: got %+v, want %+v", sum, wantSum)
	}

	for _, email := range []string{"both@example.com", "neither@example.com", "badid@example.com", "badhash@example.com",
		"baddata@example.com", "future@example.com", "long@example.com"} {
		_, err := e.Service.UserByEmail(t.Context(), e.Tenant.ID, email)
		wantCode(t, "user of a refused line "+email, err, usher.NotFound)
	}
	sameUser(t, "the skipped user", byEmailOf(t, e, "taken@example.com"), taken)
	// Line 8 was refused: line 1's password holds.
	if _, err := e.Service.Login(t.Context(), e.Tenant.ID, "plain@example.com", oldPassword); err != nil {
		t.Errorf("Login with line 1's password: %v", err)
	}
	plain := byEmailOf(t, e, "plain@example.com")
	if !plain.CreatedAt.Equal(e.Clock.Now()) || !plain.UpdatedAt.Equal(e.Clock.Now()) || plain.Confirmed || !plain.Enabled ||
		string(plain.Data) != "{}" || !strings.HasPrefix(plain.Hash, "$argon2id$") {
		t.Errorf("imported user: got %+v", plain)
	}
	if _, err := e.Service.Login(t.Context(), e.Tenant.ID, "short@example.com", "x"); err != nil {
		t.Errorf("Login with an imported password under the policy: %v", err)
	}

	t.Run("Empty", func(t *testing.T) {
		if _, sum := runImport(t, e, nil, account.ConflictSkip); sum != (account.ImportSummary{}) {
			t.Errorf("summary of an empty import: got %+v", sum)
		}
	})

	t.Run("BadPolicy", func(t *testing.T) {
		res, err := e.Service.Import(t.Context(), e.Tenant.ID, batch[:1], "replace")
		wantCode(t, "Import with an unknown on-conflict", err, usher.Invalid)
		if res != nil {
			t.Errorf("Import with an unknown on-conflict: got results %+v", res)
		}
	})
}

func TestImportOnConflict(t *testing.T) {
	const email = "existing@example.com"
	tests := []struct {
		on          account.OnConflict
		wantOutcome account.Outcome
		wantCode    usher.Code
	}{
		{account.ConflictSkip, account.Skipped, ""},
		{account.ConflictFail, account.Refused, usher.EmailTaken},
		{account.ConflictUpdate, account.Updated, ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.on), func(t *testing.T) {
			e := accounttest.New(t)
			before := mustCreate(t, e, email, oldPassword)
			e.Clock.Advance(time.Hour)
			created := time.Date(2019, 5, 6, 7, 8, 9, 123_456_789, time.UTC)
			line := account.ImportUser{Line: 1, Email: "Existing@Example.com", Hash: bcryptHash(t, newPassword),
				Confirmed: true, Enabled: true, Data: []byte(`{ "plan": "pro" }`), CreatedAt: created}
			res, _ := runImport(t, e, []account.ImportUser{line}, tt.on)
			if res[0].Outcome != tt.wantOutcome || usher.ErrorCode(res[0].Err) != tt.wantCode {
				t.Fatalf("got %s (%v), want %s with code %q", res[0].Outcome, res[0].Err, tt.wantOutcome, tt.wantCode)
			}
			after := byEmailOf(t, e, email)
			if tt.on != account.ConflictUpdate {
				sameUser(t, "the existing user", after, before)
				return
			}
			want := before
			want.Email, want.Hash, want.Confirmed, want.Data = line.Email, line.Hash, true, []byte(`{"plan":"pro"}`)
			want.UpdatedAt = e.Clock.Now() // created_at is the account's: kept
			sameUser(t, "the updated user", after, want)
			if _, err := e.Service.Login(t.Context(), e.Tenant.ID, email, newPassword); err != nil {
				t.Errorf("Login with the imported hash's password: %v", err)
			}
		})
	}

	t.Run("OtherIDs", func(t *testing.T) {
		e := accounttest.New(t)
		ann := mustCreate(t, e, "ann@example.com", oldPassword)
		bob := mustCreate(t, e, "bob@example.com", oldPassword)
		for _, on := range []account.OnConflict{account.ConflictSkip, account.ConflictUpdate, account.ConflictFail} {
			res, _ := runImport(t, e, []account.ImportUser{
				// ann's address with bob's id; a new address with ann's id.
				{Line: 1, ID: bob.ID, Email: ann.Email, Password: newPassword, Enabled: true},
				{Line: 2, ID: ann.ID, Email: "new@example.com", Password: newPassword, Enabled: true},
			}, on)
			for _, r := range res {
				if r.Outcome != account.Refused || usher.ErrorCode(r.Err) != usher.Conflict {
					t.Errorf("%s: line %d: got %s (%v), want refused with code %q", on, r.Line, r.Outcome, r.Err, usher.Conflict)
				}
			}
			// ann's own id, in upper case, and address: the user as it is.
			res, _ = runImport(t, e, []account.ImportUser{
				{Line: 3, ID: strings.ToUpper(ann.ID), Email: ann.Email, Hash: ann.Hash, Enabled: true},
			}, on)
			wantOutcome := map[account.OnConflict]account.Outcome{account.ConflictFail: account.Refused}[on]
			if wantOutcome == "" {
				wantOutcome = account.Skipped
			}
			if res[0].Outcome != wantOutcome {
				t.Errorf("%s: line 3 (the user as it is): got %s (%v), want %s", on, res[0].Outcome, res[0].Err, wantOutcome)
			}
			sameUser(t, string(on)+": ann", byEmailOf(t, e, ann.Email), ann)
			sameUser(t, string(on)+": bob", byEmailOf(t, e, bob.Email), bob)
			_, err := e.Service.UserByEmail(t.Context(), e.Tenant.ID, "new@example.com")
			wantCode(t, string(on)+": the refused new address", err, usher.NotFound)
		}
	})
}

func TestImportRerun(t *testing.T) {
	e := accounttest.New(t)
	created := time.Date(2021, 1, 2, 3, 4, 5, 0, time.UTC)
	batch := []account.ImportUser{
		{Line: 1, Email: "a@example.com", Hash: bcryptHash(t, oldPassword), Enabled: true},
		{Line: 2, ID: usher.NewID(created), Email: "B@Example.com", Hash: bcryptHash(t, newPassword), Confirmed: true,
			Enabled: true, Data: []byte(`{"x":[1,2]}`), CreatedAt: created},
		{Line: 3, Email: "c@example.com", Password: oldPassword, Enabled: true},
	}
	_, sum := runImport(t, e, batch, account.ConflictSkip)
	if sum != (account.ImportSummary{Created: 3}) {
		t.Fatalf("first run: got %+v, want 3 created", sum)
	}
	b := byEmailOf(t, e, "b@example.com")
	if b.ID != batch[1].ID || !b.CreatedAt.Equal(created) || b.Email != "B@Example.com" || string(b.Data) != `{"x":[1,2]}` {
		t.Errorf("imported user of line 2: got %+v", b)
	}
	users := map[string]usher.User{}
	for _, l := range batch {
		users[l.Email] = byEmailOf(t, e, l.Email)
	}

	e.Clock.Advance(time.Hour)
	for _, on := range []account.OnConflict{account.ConflictSkip, account.ConflictUpdate} {
		// A plain password the user has keeps its hash; a line's created_at
		// never moves an existing user's.
		again := append([]account.ImportUser(nil), batch...)
		again[0].CreatedAt = created
		_, sum := runImport(t, e, again, on)
		if sum != (account.ImportSummary{Skipped: len(again)}) {
			t.Errorf("run again with %s: got %+v, want all skipped", on, sum)
		}
		for _, l := range batch {
			sameUser(t, "user after a second run with "+string(on), byEmailOf(t, e, l.Email), users[l.Email])
		}
	}
}

func TestImportPasswords(t *testing.T) {
	e := accounttest.New(t)
	kept := bcryptHash(t, oldPassword)
	runImport(t, e, []account.ImportUser{
		{Line: 1, Email: "plain@example.com", Password: oldPassword, Enabled: true},
		{Line: 2, Email: "bcrypt@example.com", Hash: kept, Enabled: true},
	}, account.ConflictFail)

	plain := byEmailOf(t, e, "plain@example.com")
	if !strings.HasPrefix(plain.Hash, "$argon2id$") || paramsOf(t, plain.Hash) != currentPHC || strings.Contains(plain.Hash, oldPassword) {
		t.Errorf("plain password: stored %q, want an argon2id hash of the current parameters", plain.Hash)
	}
	if _, err := e.Service.Login(t.Context(), e.Tenant.ID, plain.Email, oldPassword); err != nil {
		t.Errorf("Login with the imported plain password: %v", err)
	}

	if got := byEmailOf(t, e, "bcrypt@example.com").Hash; got != kept {
		t.Errorf("kept hash: stored %q, want %q", got, kept)
	}
	_, err := e.Service.Login(t.Context(), e.Tenant.ID, "bcrypt@example.com", wrongPassword)
	wantCode(t, "Login with a wrong password on a bcrypt hash", err, usher.Unauthorized)
	if got := byEmailOf(t, e, "bcrypt@example.com").Hash; got != kept {
		t.Errorf("hash after a wrong password: got %q, want the bcrypt hash kept", got)
	}
	if _, err := e.Service.Login(t.Context(), e.Tenant.ID, "bcrypt@example.com", oldPassword); err != nil {
		t.Fatalf("Login with the bcrypt hash's password: %v", err)
	}
	rehashed := byEmailOf(t, e, "bcrypt@example.com").Hash
	if !strings.HasPrefix(rehashed, "$argon2id$") || paramsOf(t, rehashed) != currentPHC {
		t.Errorf("hash after the first sign-in: got %q, want argon2id", rehashed)
	}
	if _, err := e.Service.Login(t.Context(), e.Tenant.ID, "bcrypt@example.com", oldPassword); err != nil {
		t.Errorf("Login on the rehashed password: %v", err)
	}
}

func TestImportRefusedLineChangesNothing(t *testing.T) {
	e := accounttest.New(t)
	u := mustCreate(t, e, "ann@example.com", oldPassword)
	tok, err := e.Service.Login(t.Context(), e.Tenant.ID, u.Email, oldPassword)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	before := byEmailOf(t, e, u.Email)
	e.Clock.Advance(time.Minute)
	lines := []account.ImportUser{
		{Line: 1, Email: u.Email, Hash: bcryptHash(t, newPassword), Data: []byte(`"not an object"`)},
		{Line: 2, Email: u.Email, Password: newPassword, CreatedAt: e.Clock.Now().Add(time.Hour)},
		{Line: 3, Email: u.Email, Hash: "$2a$99$invalid"},
		{Line: 4, Email: u.Email, ID: usher.NewID(e.Clock.Now()), Password: newPassword},
	}
	for _, l := range lines {
		res, _ := runImport(t, e, []account.ImportUser{l}, account.ConflictUpdate)
		if res[0].Outcome != account.Refused {
			t.Errorf("line %d: got %s, want refused", l.Line, res[0].Outcome)
		}
	}
	sameUser(t, "user after refused lines", byEmailOf(t, e, u.Email), before)
	if _, _, err := e.Service.Authenticate(t.Context(), e.Tenant.ID, tok); err != nil {
		t.Errorf("session after refused lines: %v", err)
	}
}

func TestImportUpdateSessions(t *testing.T) {
	tests := []struct {
		name        string
		line        func(cur usher.User) account.ImportUser
		wantSession bool
	}{
		{"SameHash", func(cur usher.User) account.ImportUser {
			return account.ImportUser{Email: cur.Email, Hash: cur.Hash, Enabled: true, Data: []byte(`{"n":1}`)}
		}, true},
		{"NewHash", func(cur usher.User) account.ImportUser {
			return account.ImportUser{Email: cur.Email, Hash: "", Password: newPassword, Enabled: true}
		}, false},
		{"Disabled", func(cur usher.User) account.ImportUser {
			return account.ImportUser{Email: cur.Email, Hash: cur.Hash, Enabled: false}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := accounttest.New(t)
			u := mustCreate(t, e, "ann@example.com", oldPassword)
			tok, err := e.Service.Login(t.Context(), e.Tenant.ID, u.Email, oldPassword)
			if err != nil {
				t.Fatalf("Login: %v", err)
			}
			// A pending reset code dies with the sessions.
			if err := e.Service.SendReset(t.Context(), e.Tenant.ID, u.Email); err != nil {
				t.Fatalf("SendReset: %v", err)
			}
			ms := e.Mail(t)
			if len(ms) != 1 {
				t.Fatalf("mail: got %d, want the reset", len(ms))
			}
			code := ms[0].Params.Code
			line := tt.line(byEmailOf(t, e, u.Email))
			line.Line = 1
			res, _ := runImport(t, e, []account.ImportUser{line}, account.ConflictUpdate)
			if res[0].Outcome != account.Updated {
				t.Fatalf("got %s (%v), want updated", res[0].Outcome, res[0].Err)
			}
			_, _, err = e.Service.Authenticate(t.Context(), e.Tenant.ID, tok)
			if got := err == nil; got != tt.wantSession {
				t.Errorf("session lives after the update: got %v (%v), want %v", got, err, tt.wantSession)
			}
			err = e.Service.ResetPassword(context.Background(), e.Tenant.ID, u.Email, code, "third-Secret-7777")
			if got := err == nil; got != tt.wantSession {
				t.Errorf("reset code works after the update: got %v (%v), want %v", got, err, tt.wantSession)
			}
			if tt.name == "NewHash" {
				if _, err := e.Service.Login(t.Context(), e.Tenant.ID, u.Email, newPassword); err != nil {
					t.Errorf("Login with the imported password: %v", err)
				}
				_, err := e.Service.Login(t.Context(), e.Tenant.ID, u.Email, oldPassword)
				wantCode(t, "Login with the password before the import", err, usher.Unauthorized)
			}
		})
	}
}
