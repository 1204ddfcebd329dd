package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/usher"
)

// What operators use: the sessions of a user (Sessions, TouchSession,
// DeleteUserSession), named tenants and their key rotation and deletion,
// the bulk reads and writes of an import (UsersByEmailKeys, UsersByIDs,
// CreateUsers), and ClearCounts. An export's EachUser is in list.go.

func testOperatorSessions(t *testing.T, s *store.Store) {
	tenant, other := newTenant(t, s), newTenant(t, s)
	alice := create(t, s, newUser(tenant, "alice@example.com"))
	bob := create(t, s, newUser(tenant, "bob@example.com"))

	older := newSession(tenant, alice.ID, base.Add(time.Hour))
	older.Surface, older.ClientIP, older.UserAgent = "public", "203.0.113.9", "curl/8.5.0"
	newer := newSession(tenant, alice.ID, base.Add(2*time.Hour))
	newer.CreatedAt = base.Add(time.Second)
	newer.Surface, newer.ClientIP, newer.UserAgent = "backend", "2001:db8::1", "Mozilla/5.0 (X11; Linux) «ünïcode»"
	expired := newSession(tenant, alice.ID, base.Add(-time.Minute))
	expired.CreatedAt = base.Add(-time.Hour)
	bobs := newSession(tenant, bob.ID, base.Add(time.Hour))
	createSessions(t, s, older, newer, expired, bobs)

	sessions := func(t *testing.T, tenantID, userID string, now time.Time) []usher.Session {
		t.Helper()
		got, err := s.Sessions(ctx(t), tenantID, userID, now)
		if err != nil {
			t.Fatalf("Sessions: %v", err)
		}
		return got
	}
	wantSessions := func(t *testing.T, what string, got []usher.Session, want ...usher.Session) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s: got %d sessions, want %d (%+v)", what, len(got), len(want), got)
			return
		}
		for i := range got {
			if d := diff(got[i], want[i]); d != "" {
				t.Errorf("%s: session %d differs:\n%s", what, i, d)
			}
		}
	}

	t.Run("Sessions", func(t *testing.T) {
		wantSessions(t, "Sessions, newest first", sessions(t, tenant, alice.ID, base), newer, older)
		wantSessions(t, "Sessions just before the older expires", sessions(t, tenant, alice.ID, older.ExpiresAt.Add(-ms)), newer, older)
		wantSessions(t, "Sessions when the older expires", sessions(t, tenant, alice.ID, older.ExpiresAt), newer)
		wantSessions(t, "Sessions of another user", sessions(t, tenant, bob.ID, base), bobs)
		wantSessions(t, "Sessions from another tenant", sessions(t, other, alice.ID, base))
		wantSessions(t, "Sessions of an unknown user", sessions(t, tenant, usher.NewID(base), base))
	})

	t.Run("TouchSession", func(t *testing.T) {
		_, used, err := s.SessionUser(ctx(t), tenant, older.ID, alice.ID, base)
		if err != nil || !used.IsZero() {
			t.Fatalf("SessionUser of an untouched session: last used %v (err %v), want the zero time", used, err)
		}
		touched := base.Add(5*time.Minute + 7*ms)
		if err := s.TouchSession(ctx(t), tenant, older.ID, touched); err != nil {
			t.Fatalf("TouchSession: %v", err)
		}
		// From another tenant, or of an unknown session: no error, no change.
		if err := s.TouchSession(ctx(t), other, newer.ID, touched); err != nil {
			t.Errorf("TouchSession from another tenant: got %v, want nil", err)
		}
		if err := s.TouchSession(ctx(t), tenant, usher.NewID(base), touched); err != nil {
			t.Errorf("TouchSession of an unknown session: got %v, want nil", err)
		}
		u, used, err := s.SessionUser(ctx(t), tenant, older.ID, alice.ID, base)
		if err != nil {
			t.Fatalf("SessionUser: %v", err)
		}
		wantUser(t, "SessionUser after TouchSession", u, alice)
		if !used.Equal(touched) {
			t.Errorf("SessionUser last used: got %v, want %v", used, touched)
		}
		wasOlder := older
		wasOlder.LastUsedAt = touched
		wantSessions(t, "Sessions after TouchSession", sessions(t, tenant, alice.ID, base), newer, wasOlder)

		later := touched.Add(10 * time.Minute)
		if err := s.TouchSession(ctx(t), tenant, older.ID, later); err != nil {
			t.Fatalf("second TouchSession: %v", err)
		}
		if _, used, _ := s.SessionUser(ctx(t), tenant, older.ID, alice.ID, base); !used.Equal(later) {
			t.Errorf("SessionUser last used after a second touch: got %v, want %v", used, later)
		}
	})

	t.Run("DeleteUserSession", func(t *testing.T) {
		del := func(tenantID, userID, id string) error {
			return s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
				return tx.DeleteUserSession(tctx, tenantID, userID, id)
			})
		}
		wantCode(t, "DeleteUserSession of another user's session", del(tenant, bob.ID, newer.ID), usher.NotFound)
		wantCode(t, "DeleteUserSession from another tenant", del(other, alice.ID, newer.ID), usher.NotFound)
		wantCode(t, "DeleteUserSession of an unknown session", del(tenant, alice.ID, usher.NewID(base)), usher.NotFound)
		wantLive(t, s, "session after refused deletes", newer, alice)

		if err := del(tenant, alice.ID, newer.ID); err != nil {
			t.Fatalf("DeleteUserSession: %v", err)
		}
		wantGone(t, s, "deleted session", newer)
		wantLive(t, s, "the user's other session", older, alice)
		wantLive(t, s, "another user's session", bobs, bob)
		wantCode(t, "second DeleteUserSession", del(tenant, alice.ID, newer.ID), usher.NotFound)

		err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
			if err := tx.DeleteUserSession(tctx, tenant, alice.ID, older.ID); err != nil {
				return err
			}
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Fatalf("Update: got %v, want fn's error", err)
		}
		wantLive(t, s, "session deleted in a rolled back transaction", older, alice)
	})
}

// createTenant stores x with Tx.CreateTenant.
func createTenant(t *testing.T, s *store.Store, x usher.Tenant) error {
	t.Helper()
	return s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error { return tx.CreateTenant(tctx, x) })
}

func namedTenant(name string, created time.Time) usher.Tenant {
	return usher.Tenant{ID: usher.NewID(created), Name: name, PublicKey: "pk_" + usher.NewID(created), CreatedAt: created}
}

func wantTenant(t *testing.T, what string, got usher.Tenant, err error, want usher.Tenant) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if d := diff(got, want); d != "" {
		t.Errorf("%s: tenant differs:\n%s", what, d)
	}
}

func testTenants(t *testing.T, s *store.Store) {
	before, err := s.Tenants(ctx(t))
	if err != nil {
		t.Fatalf("Tenants: %v", err)
	}
	acme := namedTenant("acme", base.Add(time.Hour))
	beta := namedTenant("beta", base)
	gamma := namedTenant("gamma", base) // same time as beta: ordered by id
	for _, x := range []usher.Tenant{acme, beta, gamma} {
		if err := createTenant(t, s, x); err != nil {
			t.Fatalf("CreateTenant(%s): %v", x.Name, err)
		}
	}

	t.Run("Read", func(t *testing.T) {
		got, err := s.TenantByID(ctx(t), acme.ID)
		wantTenant(t, "TenantByID", got, err, acme)
		got, err = s.TenantByName(ctx(t), "beta")
		wantTenant(t, "TenantByName", got, err, beta)
		got, err = s.TenantByKey(ctx(t), gamma.PublicKey)
		wantTenant(t, "TenantByKey", got, err, gamma)

		_, err = s.TenantByName(ctx(t), "ACME")
		wantCode(t, "TenantByName in another case", err, usher.NotFound)
		_, err = s.TenantByName(ctx(t), "nope")
		wantCode(t, "TenantByName of an unknown name", err, usher.NotFound)
		_, err = s.TenantByID(ctx(t), usher.NewID(base))
		wantCode(t, "TenantByID of an unknown id", err, usher.NotFound)
	})

	t.Run("Tenants", func(t *testing.T) {
		want := append(slices.Clone(before), acme, beta, gamma)
		slices.SortFunc(want, func(a, b usher.Tenant) int {
			if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
				return c
			}
			return compareIDs(a.ID, b.ID)
		})
		got, err := s.Tenants(ctx(t))
		if err != nil {
			t.Fatalf("Tenants: %v", err)
		}
		if len(got) != len(want) {
			t.Fatalf("Tenants: got %d, want %d", len(got), len(want))
		}
		for i := range got {
			if d := diff(got[i], want[i]); d != "" {
				t.Errorf("Tenants[%d] (oldest first) differs:\n%s", i, d)
			}
		}
	})

	t.Run("NameTaken", func(t *testing.T) {
		dup := namedTenant("acme", base.Add(2*time.Hour))
		wantCode(t, "CreateTenant with a taken name", createTenant(t, s, dup), usher.Conflict)
		_, err := s.TenantByID(ctx(t), dup.ID)
		wantCode(t, "TenantByID of the refused tenant", err, usher.NotFound)
		_, err = s.TenantByKey(ctx(t), dup.PublicKey)
		wantCode(t, "TenantByKey of the refused tenant", err, usher.NotFound)
		got, err := s.TenantByName(ctx(t), "acme")
		wantTenant(t, "holder of the name", got, err, acme)
	})

	t.Run("LockTenant", func(t *testing.T) {
		var got usher.Tenant
		mustUpdate(t, s, "LockTenant", func(tctx context.Context, tx account.Tx) error {
			var err error
			got, err = tx.LockTenant(tctx, beta.ID)
			return err
		})
		wantTenant(t, "LockTenant", got, nil, beta)
		err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
			_, err := tx.LockTenant(tctx, usher.NewID(base))
			return err
		})
		wantCode(t, "LockTenant of an unknown tenant", err, usher.NotFound)
	})

	t.Run("TenantHasUsers", func(t *testing.T) {
		has := func(id string) bool {
			t.Helper()
			var got bool
			mustUpdate(t, s, "TenantHasUsers", func(tctx context.Context, tx account.Tx) error {
				var err error
				got, err = tx.TenantHasUsers(tctx, id)
				return err
			})
			return got
		}
		if has(acme.ID) {
			t.Errorf("TenantHasUsers of a new tenant: got true, want false")
		}
		create(t, s, newUser(acme.ID, "one@example.com"))
		create(t, s, newUser(acme.ID, "two@example.com"))
		if !has(acme.ID) {
			t.Errorf("TenantHasUsers of a tenant with users: got false, want true")
		}
		if has(beta.ID) {
			t.Errorf("TenantHasUsers of another tenant: got true, want false")
		}
		if has(usher.NewID(base)) {
			t.Errorf("TenantHasUsers of an unknown tenant: got true, want false")
		}
	})
}

// compareIDs orders canonical IDs as the stores do (as their 16 bytes).
func compareIDs(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// setKeys runs Tx.SetTenantKeys.
func setKeys(t *testing.T, s *store.Store, x usher.Tenant) error {
	t.Helper()
	return s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error { return tx.SetTenantKeys(tctx, x) })
}

func testTenantKeys(t *testing.T, s *store.Store) {
	x := namedTenant("rotating", base)
	x.PublicKey = "pk_one"
	y := namedTenant("steady", base)
	y.PublicKey = "pk_steady"
	for _, tn := range []usher.Tenant{x, y} {
		if err := createTenant(t, s, tn); err != nil {
			t.Fatalf("CreateTenant: %v", err)
		}
	}
	byKey := func(t *testing.T, key string, want usher.Tenant) {
		t.Helper()
		got, err := s.TenantByKey(ctx(t), key)
		wantTenant(t, fmt.Sprintf("TenantByKey(%q)", key), got, err, want)
	}
	noKey := func(t *testing.T, key string) {
		t.Helper()
		_, err := s.TenantByKey(ctx(t), key)
		wantCode(t, fmt.Sprintf("TenantByKey(%q)", key), err, usher.NotFound)
	}

	// Rotation 1: pk_one becomes the previous key, until an hour later.
	r1 := x
	r1.PublicKey, r1.PreviousKey, r1.PreviousKeyUntil = "pk_two", "pk_one", base.Add(time.Hour)
	if err := setKeys(t, s, r1); err != nil {
		t.Fatalf("SetTenantKeys: %v", err)
	}
	byKey(t, "pk_two", r1)
	byKey(t, "pk_one", r1) // the store finds the previous key; the service decides on its time
	got, err := s.TenantByID(ctx(t), x.ID)
	wantTenant(t, "TenantByID after a rotation", got, err, r1)
	byKey(t, "pk_steady", y)

	// Rotation 2: pk_one stops being found at all.
	r2 := r1
	r2.PublicKey, r2.PreviousKey, r2.PreviousKeyUntil = "pk_three", "pk_two", base.Add(2*time.Hour)
	if err := setKeys(t, s, r2); err != nil {
		t.Fatalf("SetTenantKeys: %v", err)
	}
	byKey(t, "pk_three", r2)
	byKey(t, "pk_two", r2)
	noKey(t, "pk_one")

	// A rotation without overlap keeps no previous key, on any number of
	// tenants (the previous key is unique only where it is set).
	r3 := r2
	r3.PublicKey, r3.PreviousKey, r3.PreviousKeyUntil = "pk_four", "", time.Time{}
	if err := setKeys(t, s, r3); err != nil {
		t.Fatalf("SetTenantKeys without a previous key: %v", err)
	}
	y2 := y
	y2.PublicKey = "pk_steady_2"
	if err := setKeys(t, s, y2); err != nil {
		t.Fatalf("SetTenantKeys without a previous key on a second tenant: %v", err)
	}
	byKey(t, "pk_four", r3)
	byKey(t, "pk_steady_2", y2)
	for _, k := range []string{"pk_three", "pk_two", "pk_one", "pk_steady", ""} {
		noKey(t, k)
	}

	t.Run("RolledBack", func(t *testing.T) {
		lost := r3
		lost.PublicKey, lost.PreviousKey, lost.PreviousKeyUntil = "pk_lost", "pk_four", base.Add(time.Hour)
		err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
			if err := tx.SetTenantKeys(tctx, lost); err != nil {
				return err
			}
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Fatalf("Update: got %v, want fn's error", err)
		}
		noKey(t, "pk_lost")
		byKey(t, "pk_four", r3)
	})

	t.Run("Unknown", func(t *testing.T) {
		ghost := namedTenant("ghost", base)
		wantCode(t, "SetTenantKeys of an unknown tenant", setKeys(t, s, ghost), usher.NotFound)
		noKey(t, ghost.PublicKey)
	})
}

// tenantRows counts the rows of a tenant in each table that holds them.
func tenantRows(t *testing.T, s *store.Store, tenantID string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range []string{"tenants", "users", "sessions", "codes", "outbox"} {
		cond := "tenant_id = $1"
		switch table {
		case "tenants":
			cond = "id = $1"
		case "users":
			cond = s.UsersOfTenant("$1")
		}
		out[table] = countRows(t, s, `SELECT count(*) FROM `+table+` WHERE `+cond, s.IDArg(tenantID))
	}
	return out
}

func testDeleteTenant(t *testing.T, s *store.Store) {
	doomed, kept := namedTenant("doomed", base), namedTenant("kept", base)
	var keptUser usher.User
	var keptSession usher.Session
	for i, x := range []usher.Tenant{doomed, kept} {
		if err := createTenant(t, s, x); err != nil {
			t.Fatalf("CreateTenant: %v", err)
		}
		for j := range 2 {
			// The same address in both tenants.
			u := create(t, s, newUser(x.ID, fmt.Sprintf("user%d@example.com", j)))
			sess := newSession(x.ID, u.ID, base.Add(time.Hour))
			createSessions(t, s, sess)
			putCodes(t, s, newCode(u, usher.ResetCode, fmt.Sprintf("secret-%d-%d", i, j), base))
			enqueue(t, s, newMessage(x.ID, i*10+j), base)
			if x.ID == kept.ID && j == 0 {
				keptUser, keptSession = u, sess
			}
		}
	}
	full := map[string]int{"tenants": 1, "users": 2, "sessions": 2, "codes": 2, "outbox": 2}
	if got := tenantRows(t, s, doomed.ID); !mapsEqual(got, full) {
		t.Fatalf("rows of the tenant before the delete: got %v, want %v", got, full)
	}
	deleteTenant := func(id string) error {
		return s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error { return tx.DeleteTenant(tctx, id) })
	}

	t.Run("RolledBack", func(t *testing.T) {
		err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
			if err := tx.DeleteTenant(tctx, doomed.ID); err != nil {
				return err
			}
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Fatalf("Update: got %v, want fn's error", err)
		}
		if got := tenantRows(t, s, doomed.ID); !mapsEqual(got, full) {
			t.Errorf("rows after a rolled back DeleteTenant: got %v, want %v", got, full)
		}
	})

	if err := deleteTenant(doomed.ID); err != nil {
		t.Fatalf("DeleteTenant: %v", err)
	}
	none := map[string]int{"tenants": 0, "users": 0, "sessions": 0, "codes": 0, "outbox": 0}
	if got := tenantRows(t, s, doomed.ID); !mapsEqual(got, none) {
		t.Errorf("rows of the deleted tenant: got %v, want %v", got, none)
	}
	if got := tenantRows(t, s, kept.ID); !mapsEqual(got, full) {
		t.Errorf("rows of another tenant: got %v, want %v", got, full)
	}
	_, err := s.TenantByID(ctx(t), doomed.ID)
	wantCode(t, "TenantByID of the deleted tenant", err, usher.NotFound)
	_, err = s.TenantByKey(ctx(t), doomed.PublicKey)
	wantCode(t, "TenantByKey of the deleted tenant", err, usher.NotFound)
	wantUser(t, "another tenant's user", mustGet(t, s, kept.ID, keptUser.ID), keptUser)
	wantLive(t, s, "another tenant's session", keptSession, keptUser)
	if _, err := readCode(t, s, keptUser.ID, usher.ResetCode); err != nil {
		t.Errorf("another tenant's code: %v", err)
	}

	wantCode(t, "second DeleteTenant", deleteTenant(doomed.ID), usher.NotFound)
	// The name is free again.
	if err := createTenant(t, s, namedTenant("doomed", base.Add(time.Hour))); err != nil {
		t.Errorf("CreateTenant with the deleted tenant's name: %v", err)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
