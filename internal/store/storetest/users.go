package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/usher"
)

// The users table: creating, reading, updating and deleting users, the
// email key's uniqueness, lockout counters, and the transactions around
// them (commit, rollback, concurrent writers).

func testCreateAndRead(t *testing.T, s *store.Store) {
	tenant := newTenant(t, s)
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	tests := []struct {
		name string
		edit func(u *usher.User)
	}{
		{"Defaults", func(u *usher.User) {}},
		{"ConfirmedDisabled", func(u *usher.User) { u.Confirmed, u.Enabled = true, false }},
		{"UnconfirmedEnabled", func(u *usher.User) { u.Confirmed, u.Enabled = false, true }},
		{"UnconfirmedDisabled", func(u *usher.User) { u.Confirmed, u.Enabled = false, false }},
		{"DataBytesKept", func(u *usher.User) {
			// Not normalised: key order, spacing, number forms and escapes
			// must come back byte for byte (jsonb would reorder keys).
			u.Data = json.RawMessage(`{"z":1, "a":{"b":[1,2.50,1e3,"\u00e9é\"\\"]},"e":"","n":null,"t":true}`)
		}},
		{"MixedCaseEmail", func(u *usher.User) { u.Email = "Mixed.Case@Example.COM" }},
		{"Times", func(u *usher.User) {
			u.CreatedAt = time.Date(2001, 2, 3, 4, 5, 6, 7_000_000, zone)
			u.UpdatedAt = time.Date(2030, 12, 31, 23, 59, 59, 999_000_000, time.UTC)
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := newUser(tenant, fmt.Sprintf("user%d@example.com", i))
			tt.edit(&want)
			create(t, s, want)

			got, err := s.UserByID(ctx(t), tenant, want.ID)
			if err != nil {
				t.Fatalf("UserByID: %v", err)
			}
			wantUser(t, "UserByID", got, want)
			if string(got.Data) != string(want.Data) {
				t.Errorf("UserByID: got data %s, want %s", got.Data, want.Data)
			}
			if !got.FailedSince.IsZero() || got.FailedChecks != 0 {
				t.Errorf("UserByID: got failed %d since %v, want 0 since the zero time", got.FailedChecks, got.FailedSince)
			}

			got, err = s.UserByEmail(ctx(t), tenant, want.EmailKey)
			if err != nil {
				t.Fatalf("UserByEmail: %v", err)
			}
			wantUser(t, "UserByEmail", got, want)

			// The same reads inside a transaction, LockUser included.
			err = s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
				for _, read := range []struct {
					name string
					get  func() (usher.User, error)
				}{
					{"Tx.UserByID", func() (usher.User, error) { return tx.UserByID(tctx, tenant, want.ID) }},
					{"Tx.UserByEmail", func() (usher.User, error) { return tx.UserByEmail(tctx, tenant, want.EmailKey) }},
					{"Tx.LockUser", func() (usher.User, error) { return tx.LockUser(tctx, tenant, want.ID) }},
				} {
					got, err := read.get()
					if err != nil {
						return fmt.Errorf("%s: %w", read.name, err)
					}
					wantUser(t, read.name, got, want)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}

	t.Run("ReadOwnWriteInTx", func(t *testing.T) {
		want := newUser(tenant, "own-write@example.com")
		err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
			if err := tx.CreateUser(tctx, &want); err != nil {
				return err
			}
			got, err := tx.UserByID(tctx, tenant, want.ID)
			if err != nil {
				return fmt.Errorf("Tx.UserByID after CreateUser: %w", err)
			}
			wantUser(t, "Tx.UserByID after CreateUser", got, want)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func testNotFound(t *testing.T, s *store.Store) {
	tenant := newTenant(t, s)
	// Another user exists, so a store that returns "any row" is caught.
	create(t, s, newUser(tenant, "present@example.com"))
	missing := usher.NewID(base)
	const missingKey = "missing@example.com"

	reads := []struct {
		name string
		get  func(context.Context, account.Users) (usher.User, error)
	}{
		{"UserByID", func(c context.Context, r account.Users) (usher.User, error) { return r.UserByID(c, tenant, missing) }},
		{"UserByEmail", func(c context.Context, r account.Users) (usher.User, error) {
			return r.UserByEmail(c, tenant, missingKey)
		}},
	}
	for _, rd := range reads {
		t.Run("Store."+rd.name, func(t *testing.T) {
			u, err := rd.get(ctx(t), s)
			wantCode(t, rd.name, err, usher.NotFound)
			if err == nil {
				t.Errorf("%s: got user %+v and a nil error", rd.name, u)
			}
		})
		t.Run("Tx."+rd.name, func(t *testing.T) {
			err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
				_, err := rd.get(tctx, tx)
				return err
			})
			wantCode(t, rd.name, err, usher.NotFound)
		})
	}

	u := newUser(tenant, missingKey)
	u.ID = missing
	writes := []struct {
		name string
		fn   func(tctx context.Context, tx account.Tx) error
	}{
		{"LockUser", func(tctx context.Context, tx account.Tx) error {
			_, err := tx.LockUser(tctx, tenant, missing)
			return err
		}},
		{"UpdateUser", func(tctx context.Context, tx account.Tx) error { return tx.UpdateUser(tctx, &u) }},
		{"DeleteUser", func(tctx context.Context, tx account.Tx) error { return tx.DeleteUser(tctx, tenant, missing) }},
		{"RecordFailure", func(tctx context.Context, tx account.Tx) error {
			return tx.RecordFailure(tctx, tenant, missing, base, base.Add(-time.Minute))
		}},
	}
	for _, w := range writes {
		t.Run("Tx."+w.name, func(t *testing.T) {
			var inner error
			err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
				inner = w.fn(tctx, tx)
				return inner
			})
			wantCode(t, w.name, inner, usher.NotFound)
			wantCode(t, "Update returning "+w.name+"'s error", err, usher.NotFound)
		})
	}

	// UpdateUser on a missing ID must not have created it.
	_, err := s.UserByEmail(ctx(t), tenant, missingKey)
	wantCode(t, "UserByEmail after UpdateUser of a missing user", err, usher.NotFound)
}

func testEmailTaken(t *testing.T, s *store.Store) {
	a, b := newTenant(t, s), newTenant(t, s)
	first := create(t, s, newUser(a, "taken@example.com"))

	t.Run("CreateUser", func(t *testing.T) {
		dup := newUser(a, first.EmailKey)
		dup.Email = "TAKEN@example.com"
		var inner error
		err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
			inner = tx.CreateUser(tctx, &dup)
			return inner
		})
		wantCode(t, "CreateUser with a taken key", inner, usher.EmailTaken)
		wantCode(t, "Update returning CreateUser's error", err, usher.EmailTaken)
		_, err = s.UserByID(ctx(t), a, dup.ID)
		wantCode(t, "UserByID of the refused user", err, usher.NotFound)
		wantUser(t, "holder of the key", mustGet(t, s, a, first.ID), first)
	})

	t.Run("OtherTenant", func(t *testing.T) {
		other := create(t, s, newUser(b, first.EmailKey))
		wantUser(t, "same key in another tenant", mustGet(t, s, b, other.ID), other)
		got, err := s.UserByEmail(ctx(t), a, first.EmailKey)
		if err != nil {
			t.Fatalf("UserByEmail: %v", err)
		}
		if got.ID != first.ID {
			t.Errorf("UserByEmail in the first tenant: got ID %s, want %s", got.ID, first.ID)
		}
	})

	t.Run("UpdateUser", func(t *testing.T) {
		second := create(t, s, newUser(a, "second@example.com"))
		changed := second
		changed.Email, changed.EmailKey = first.Email, first.EmailKey
		changed.UpdatedAt = base.Add(time.Minute)
		var inner error
		err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
			inner = tx.UpdateUser(tctx, &changed)
			return inner
		})
		wantCode(t, "UpdateUser to a taken key", inner, usher.EmailTaken)
		wantCode(t, "Update returning UpdateUser's error", err, usher.EmailTaken)
		wantUser(t, "user refused the key", mustGet(t, s, a, second.ID), second)
		wantUser(t, "holder of the key", mustGet(t, s, a, first.ID), first)
	})

	t.Run("UpdateUserKeepsOwnKey", func(t *testing.T) {
		u := mustGet(t, s, a, first.ID)
		u.Email = "Taken@Example.com" // same key, other spelling
		u.UpdatedAt = base.Add(2 * time.Minute)
		if err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error { return tx.UpdateUser(tctx, &u) }); err != nil {
			t.Fatalf("UpdateUser keeping its own key: %v", err)
		}
		wantUser(t, "after UpdateUser", mustGet(t, s, a, u.ID), u)
		first = u
	})

	t.Run("KeyFreedByUpdate", func(t *testing.T) {
		u := mustGet(t, s, a, first.ID)
		u.Email, u.EmailKey = "renamed@example.com", "renamed@example.com"
		if err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error { return tx.UpdateUser(tctx, &u) }); err != nil {
			t.Fatalf("UpdateUser: %v", err)
		}
		create(t, s, newUser(a, "taken@example.com"))
	})
}

func testEmailTakenRace(t *testing.T, s *store.Store) {
	tenant := newTenant(t, s)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := newUser(tenant, "race@example.com")
			errs[i] = s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error { return tx.CreateUser(tctx, &u) })
		}()
	}
	wg.Wait()
	created := 0
	for i, err := range errs {
		switch usher.ErrorCode(err) {
		case "":
			created++
		case usher.EmailTaken:
		default:
			t.Errorf("creator %d: got %v, want nil or code %q", i, err, usher.EmailTaken)
		}
	}
	if created != 1 {
		t.Errorf("concurrent CreateUser with one key: got %d created, want 1", created)
	}
}

func testUpdateUser(t *testing.T, s *store.Store) {
	tenant := newTenant(t, s)
	orig := create(t, s, newUser(tenant, "before@example.com"))
	bystander := create(t, s, newUser(tenant, "bystander@example.com"))

	want := orig
	want.Email, want.EmailKey = "After@Example.com", "after@example.com"
	want.Hash = "$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdG5ld3NhbHQ$bmV3aGFzaG5ld2hhc2huZXdoYXNobmV3aGFzaA"
	want.Confirmed, want.Enabled = false, false
	want.Data = json.RawMessage(`{"plan":"pro", "seats":3}`)
	want.UpdatedAt = base.Add(90 * time.Second)
	want.FailedChecks, want.FailedSince = 4, base.Add(30*time.Second)

	in := want
	in.CreatedAt = base.Add(time.Hour) // created_at is not mutable
	err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
		if err := tx.UpdateUser(tctx, &in); err != nil {
			return err
		}
		got, err := tx.UserByID(tctx, tenant, orig.ID)
		if err != nil {
			return fmt.Errorf("Tx.UserByID after UpdateUser: %w", err)
		}
		wantUser(t, "Tx.UserByID after UpdateUser", got, want)
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	wantUser(t, "UserByID after UpdateUser", mustGet(t, s, tenant, orig.ID), want)
	got, err := s.UserByEmail(ctx(t), tenant, want.EmailKey)
	if err != nil {
		t.Fatalf("UserByEmail by the new key: %v", err)
	}
	wantUser(t, "UserByEmail by the new key", got, want)
	_, err = s.UserByEmail(ctx(t), tenant, orig.EmailKey)
	wantCode(t, "UserByEmail by the old key", err, usher.NotFound)
	wantUser(t, "another user", mustGet(t, s, tenant, bystander.ID), bystander)

	// Clearing the lockout counters (as a password change does).
	want.FailedChecks, want.FailedSince = 0, time.Time{}
	if err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error { return tx.UpdateUser(tctx, &want) }); err != nil {
		t.Fatalf("UpdateUser clearing the counters: %v", err)
	}
	got = mustGet(t, s, tenant, orig.ID)
	wantUser(t, "after clearing the counters", got, want)
	if !got.FailedSince.IsZero() {
		t.Errorf("FailedSince after clearing: got %v, want the zero time", got.FailedSince)
	}
}

func testUpdateRollsBack(t *testing.T, s *store.Store) {
	tenant := newTenant(t, s)
	kept := create(t, s, newUser(tenant, "kept@example.com"))
	doomed := create(t, s, newUser(tenant, "doomed@example.com"))
	fresh := newUser(tenant, "fresh@example.com")

	err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
		if err := tx.CreateUser(tctx, &fresh); err != nil {
			return err
		}
		changed := kept
		changed.Email, changed.EmailKey, changed.Enabled = "changed@example.com", "changed@example.com", false
		changed.Data = json.RawMessage(`{"changed":true}`)
		if err := tx.UpdateUser(tctx, &changed); err != nil {
			return err
		}
		if err := tx.RecordFailure(tctx, tenant, kept.ID, base, base.Add(-time.Minute)); err != nil {
			return err
		}
		if err := tx.DeleteUser(tctx, tenant, doomed.ID); err != nil {
			return err
		}
		// Not visible outside the transaction before it commits.
		if _, err := s.UserByID(ctx(t), tenant, fresh.ID); usher.ErrorCode(err) != usher.NotFound {
			t.Errorf("UserByID of an uncommitted user: got %v, want code %q", err, usher.NotFound)
		}
		return fmt.Errorf("in fn: %w", errAbort)
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Update: got %v, want fn's error", err)
	}

	_, err = s.UserByID(ctx(t), tenant, fresh.ID)
	wantCode(t, "UserByID of a user created in a rolled back transaction", err, usher.NotFound)
	_, err = s.UserByEmail(ctx(t), tenant, fresh.EmailKey)
	wantCode(t, "UserByEmail of a user created in a rolled back transaction", err, usher.NotFound)
	wantUser(t, "user updated in a rolled back transaction", mustGet(t, s, tenant, kept.ID), kept)
	wantUser(t, "user deleted in a rolled back transaction", mustGet(t, s, tenant, doomed.ID), doomed)
	_, err = s.UserByEmail(ctx(t), tenant, "changed@example.com")
	wantCode(t, "UserByEmail of a key set in a rolled back transaction", err, usher.NotFound)

	// The store still works after the rollback.
	create(t, s, newUser(tenant, "after-rollback@example.com"))
}

func testUpdateCommits(t *testing.T, s *store.Store) {
	tenant := newTenant(t, s)
	one, two := newUser(tenant, "one@example.com"), newUser(tenant, "two@example.com")
	err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
		if err := tx.CreateUser(tctx, &one); err != nil {
			return err
		}
		// A NotFound inside the transaction that fn handles does not spoil it.
		if _, err := tx.UserByID(tctx, tenant, usher.NewID(base)); usher.ErrorCode(err) != usher.NotFound {
			return fmt.Errorf("Tx.UserByID of a missing user: got %v, want NotFound", err)
		}
		return tx.CreateUser(tctx, &two)
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	wantUser(t, "first user of the transaction", mustGet(t, s, tenant, one.ID), one)
	wantUser(t, "second user of the transaction", mustGet(t, s, tenant, two.ID), two)
}

func testRecordCheck(t *testing.T, s *store.Store) {
	tenant := newTenant(t, s)
	u := create(t, s, newUser(tenant, "checks@example.com"))
	other := create(t, s, newUser(tenant, "other@example.com"))
	const window = 15 * time.Minute

	steps := []struct {
		name       string
		failed     bool
		now        time.Time
		windowFrom time.Time // zero: now - window
		wantCount  int
		wantSince  time.Time
	}{
		{"FirstFailureOpensWindow", true, base, time.Time{}, 1, base},
		{"FailureInWindowCounts", true, base.Add(time.Minute), time.Time{}, 2, base},
		{"AnotherFailureInWindow", true, base.Add(14 * time.Minute), time.Time{}, 3, base},
		{"FailureAtWindowStartCounts", true, base.Add(window), base, 4, base},
		{"FailureAfterWindowRestarts", true, base.Add(window + time.Millisecond), time.Time{}, 1, base.Add(window + time.Millisecond)},
		{"FailureInNewWindow", true, base.Add(20 * time.Minute), time.Time{}, 2, base.Add(window + time.Millisecond)},
		{"SuccessClears", false, base.Add(21 * time.Minute), time.Time{}, 0, time.Time{}},
		{"SuccessWhenClear", false, base.Add(22 * time.Minute), time.Time{}, 0, time.Time{}},
		{"FailureAfterSuccessStartsAtOne", true, base.Add(23 * time.Minute), time.Time{}, 1, base.Add(23 * time.Minute)},
		{"LongAfterRestarts", true, base.Add(48 * time.Hour), time.Time{}, 1, base.Add(48 * time.Hour)},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			from := st.windowFrom
			if from.IsZero() {
				from = st.now.Add(-window)
			}
			err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
				if st.failed {
					return tx.RecordFailure(tctx, tenant, u.ID, st.now, from)
				}
				// A success clears the count as the use cases do.
				cur, err := tx.LockUser(tctx, tenant, u.ID)
				if err != nil {
					return err
				}
				cur.FailedChecks, cur.FailedSince = 0, time.Time{}
				return tx.UpdateUser(tctx, &cur)
			})
			if err != nil {
				t.Fatalf("recording the check: %v", err)
			}
			want := u
			want.FailedChecks, want.FailedSince = st.wantCount, st.wantSince
			got := mustGet(t, s, tenant, u.ID)
			// Only the counters change: wantUser covers every other field too.
			wantUser(t, "after recording", got, want)
			if st.wantSince.IsZero() && !got.FailedSince.IsZero() {
				t.Errorf("FailedSince: got %v, want the zero time", got.FailedSince)
			}
		})
	}

	t.Run("SameTransactionSeesCount", func(t *testing.T) {
		now := base.Add(72 * time.Hour)
		err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
			for range 3 {
				if err := tx.RecordFailure(tctx, tenant, u.ID, now, now.Add(-window)); err != nil {
					return err
				}
			}
			got, err := tx.LockUser(tctx, tenant, u.ID)
			if err != nil {
				return err
			}
			if got.FailedChecks != 3 || !got.FailedSince.Equal(now) {
				t.Errorf("LockUser after 3 failures: got %d since %v, want 3 since %v", got.FailedChecks, got.FailedSince, now)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
	})

	wantUser(t, "another user after RecordFailure", mustGet(t, s, tenant, other.ID), other)
}

func testDeleteUser(t *testing.T, s *store.Store) {
	tenant := newTenant(t, s)
	gone := create(t, s, newUser(tenant, "gone@example.com"))
	stays := create(t, s, newUser(tenant, "stays@example.com"))

	if err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error { return tx.DeleteUser(tctx, tenant, gone.ID) }); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	_, err := s.UserByID(ctx(t), tenant, gone.ID)
	wantCode(t, "UserByID after DeleteUser", err, usher.NotFound)
	_, err = s.UserByEmail(ctx(t), tenant, gone.EmailKey)
	wantCode(t, "UserByEmail after DeleteUser", err, usher.NotFound)
	err = s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error { return tx.DeleteUser(tctx, tenant, gone.ID) })
	wantCode(t, "second DeleteUser", err, usher.NotFound)
	wantUser(t, "another user after DeleteUser", mustGet(t, s, tenant, stays.ID), stays)

	// The email key is free again.
	create(t, s, newUser(tenant, gone.EmailKey))
}

// testConcurrentUpdates runs read-modify-write transactions (LockUser, then
// UpdateUser) at once on one user: LockUser must hold the user, so no
// increment is lost.
func testConcurrentUpdates(t *testing.T, s *store.Store) {
	tenant := newTenant(t, s)
	u := newUser(tenant, "counter@example.com")
	u.Data = json.RawMessage(`{"n":0}`)
	create(t, s, u)

	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
				cur, err := tx.LockUser(tctx, tenant, u.ID)
				if err != nil {
					return err
				}
				var d struct{ N int }
				if err := json.Unmarshal(cur.Data, &d); err != nil {
					return err
				}
				cur.Data = json.RawMessage(fmt.Sprintf(`{"n":%d}`, d.N+1))
				return tx.UpdateUser(tctx, &cur)
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("update %d: %v", i, err)
		}
	}
	if got, want := string(mustGet(t, s, tenant, u.ID).Data), fmt.Sprintf(`{"n":%d}`, n); got != want {
		t.Errorf("counter after %d concurrent increments: got %s, want %s", n, got, want)
	}
}
