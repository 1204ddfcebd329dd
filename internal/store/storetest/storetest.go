// Package storetest is the contract test suite of account.Store: every store
// implementation (SQLite, PostgreSQL) runs the same tests, so the account
// service can rely on one behaviour whatever the engine.
//
// Its files follow the store's, one per table (users.go, tenants.go,
// sessions.go, codes.go, rate_counters.go, outbox.go, signing_keys.go,
// sweep.go); this one holds Run and the helpers they share. Where a field is
// not exposed by any method (outbox status and params, rows left behind by
// a cascade), the tests read the tables through s.DB(), with SQL that both
// engines accept.
//
// A transaction's function gets the transaction's context, named tctx in
// the tests (ctx is the helper below), and every Tx call in it takes tctx.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/usher"
)

// Run runs the account.Store contract against stores made by open, which
// returns a fresh, migrated, empty store (a new database on each call) and
// closes it when the test ends.
func Run(t *testing.T, open func(t *testing.T) *store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s *store.Store)
	}{
		{"Ping", testPing},
		{"EnsureTenant", testEnsureTenant},
		{"CreateAndRead", testCreateAndRead},
		{"NotFound", testNotFound},
		{"TenantIsolation", testTenantIsolation},
		{"EmailTaken", testEmailTaken},
		{"EmailTakenRace", testEmailTakenRace},
		{"UpdateUser", testUpdateUser},
		{"UpdateRollsBack", testUpdateRollsBack},
		{"UpdateCommits", testUpdateCommits},
		{"RecordCheck", testRecordCheck},
		{"DeleteUser", testDeleteUser},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"Sessions", testSessions},
		{"Codes", testCodes},
		{"Count", testCount},
		{"ClearCount", testClearCount},
		{"Outbox", testOutbox},
		{"SigningKeys", testSigningKeys},
		{"Sweep", testSweep},
		{"Stats", testStats},
		{"TenantByKey", testTenantByKey},
		{"ListUsersOrder", testListUsersOrder},
		{"ListUsersChanges", testListUsersChanges},
		{"ListUsersFilters", testListUsersFilters},
		{"ListUsersTenants", testListUsersTenants},
		{"OperatorSessions", testOperatorSessions},
		{"Tenants", testTenants},
		{"TenantKeys", testTenantKeys},
		{"DeleteTenant", testDeleteTenant},
		{"CreateUsers", testCreateUsers},
		{"UsersByKeys", testUsersByKeys},
		{"EachUser", testEachUser},
		{"ClearCounts", testClearCounts},
		{"AppendEvent", testAppendEvent},
		{"EventsFilters", testEventsFilters},
		{"PruneEvents", testPruneEvents},
		{"Webhooks", testWebhooks},
		{"WebhookQueue", testWebhookQueue},
		{"ClaimDeliveries", testClaimDeliveries},
		{"ClaimPrunedEvent", testClaimPrunedEvent},
		{"DeleteTenantEvents", testDeleteTenantEvents},
		{"RefreshTokens", testRefreshTokens},
		{"SweepRefreshTokens", testSweepRefreshTokens},
		{"Admins", testAdmins},
		{"AdminSessions", testAdminSessions},
		{"QueuedMessages", testQueuedMessages},
		{"EventCounts", testEventCounts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

// base is the clock of the suite: a fixed instant at millisecond precision,
// the precision stores keep.
var base = time.Date(2025, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

// ctx bounds every store call of a test, so a store that hangs fails the
// test instead of the whole run.
func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// newTenant stores a new tenant and returns its ID.
func newTenant(t *testing.T, s *store.Store) string {
	t.Helper()
	id := usher.NewID(base)
	tn, err := s.EnsureTenant(ctx(t), usher.Tenant{
		ID: id, Name: "tenant-" + id, PublicKey: usher.NewID(base), CreatedAt: base,
	})
	if err != nil {
		t.Fatalf("EnsureTenant: %v", err)
	}
	return tn.ID
}

// newUser returns a user of tenantID with every field set and the given
// email key; it is not stored.
func newUser(tenantID, key string) usher.User {
	return usher.User{
		ID:        usher.NewID(base),
		TenantID:  tenantID,
		Email:     key,
		EmailKey:  key,
		Hash:      "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
		Confirmed: true,
		Enabled:   true,
		Data:      json.RawMessage(`{}`),
		CreatedAt: base,
		UpdatedAt: base,
	}
}

// create stores u, failing the test on error.
func create(t *testing.T, s *store.Store, u usher.User) usher.User {
	t.Helper()
	err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error { return tx.CreateUser(tctx, &u) })
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", u.EmailKey, err)
	}
	return u
}

// mustGet reads the user by ID outside any transaction.
func mustGet(t *testing.T, s *store.Store, tenantID, id string) usher.User {
	t.Helper()
	u, err := s.UserByID(ctx(t), tenantID, id)
	if err != nil {
		t.Fatalf("UserByID(%s): %v", id, err)
	}
	return u
}

// wantCode fails the test unless err carries code.
func wantCode(t *testing.T, what string, err error, code usher.Code) {
	t.Helper()
	if got := usher.ErrorCode(err); got != code {
		t.Errorf("%s: got code %q (err %v), want %q", what, got, err, code)
	}
}

// wantUser fails the test when got differs from want in any field.
func wantUser(t *testing.T, what string, got, want usher.User) {
	t.Helper()
	if d := diff(got, want); d != "" {
		t.Errorf("%s: user differs:\n%s", what, d)
	}
}

// diff lists the fields in which two structs of one type differ, as
// "field: got …, want …" lines. Times compare as instants
// (time.Time.Equal), whatever their location; every other field compares
// with reflect.DeepEqual, so a field added to the type later is covered too.
func diff(got, want any) string {
	g, w := reflect.ValueOf(got), reflect.ValueOf(want)
	var b strings.Builder
	for i := range g.NumField() {
		gf, wf := g.Field(i).Interface(), w.Field(i).Interface()
		var same bool
		if gt, ok := gf.(time.Time); ok {
			same = gt.Equal(wf.(time.Time))
		} else {
			same = reflect.DeepEqual(gf, wf)
		}
		if !same {
			fmt.Fprintf(&b, "\t%s: got %s, want %s\n", g.Type().Field(i).Name, show(gf), show(wf))
		}
	}
	return b.String()
}

func show(v any) string {
	switch v := v.(type) {
	case json.RawMessage:
		return fmt.Sprintf("%q", v)
	case time.Time:
		if v.IsZero() {
			return "the zero time"
		}
		return v.Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%#v", v)
}

func testPing(t *testing.T, s *store.Store) {
	if err := s.Ping(ctx(t)); err != nil {
		t.Fatalf("Ping: got %v, want nil", err)
	}
}

var errAbort = errors.New("storetest: abort")

// mustUpdate runs fn in one transaction, failing the test on error.
func mustUpdate(t *testing.T, s *store.Store, what string, fn func(tctx context.Context, tx account.Tx) error) {
	t.Helper()
	if err := s.Update(ctx(t), fn); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// countRows returns the count(*) of a query on the writer pool.
func countRows(t *testing.T, s *store.Store, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.DB().QueryRowContext(ctx(t), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// ms is the smallest step of the stores' clock.
const ms = time.Millisecond
