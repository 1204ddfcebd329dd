package account_test

import (
	"context"
	"errors"
	"testing"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/account/accounttest"
	"github.com/usherhq/usher/internal/usher"
)

// refusingStore is a store whose database refuses to insert one address,
// as PostgreSQL refuses a value it cannot store.
type refusingStore struct {
	account.Store
	bad string // an email key
}

func (s refusingStore) Update(ctx context.Context, fn func(context.Context, account.Tx) error) error {
	return s.Store.Update(ctx, func(ctx context.Context, tx account.Tx) error { return fn(ctx, refusingTx{tx, s.bad}) })
}

type refusingTx struct {
	account.Tx
	bad string
}

func (t refusingTx) CreateUsers(ctx context.Context, us []*usher.User) error {
	for _, u := range us {
		if u.EmailKey == t.bad {
			return usher.Wrap(usher.Internal, "", errors.New("the database refused a row"))
		}
	}
	return t.Tx.CreateUsers(ctx, us)
}

// TestImportLineTheDatabaseRefuses: a line the database refuses is refused
// alone, and the rest of its batch is imported.
func TestImportLineTheDatabaseRefuses(t *testing.T) {
	e := accounttest.New(t, func(c *account.Config) { c.Store = refusingStore{c.Store, "bad@example.com"} })
	hash := bcryptHash(t, "some-Secret-1234")
	batch := []account.ImportUser{
		{Line: 1, Email: "ok1@example.com", Hash: hash, Enabled: true},
		{Line: 2, Email: "bad@example.com", Hash: hash, Enabled: true},
		{Line: 3, Email: "ok2@example.com", Hash: hash, Enabled: true},
	}
	res, sum := runImport(t, e, batch, account.ConflictSkip)
	if sum.Created != 2 || sum.Refused != 1 || res[1].Outcome != account.Refused || usher.ErrorCode(res[1].Err) != usher.Invalid {
		t.Fatalf("import: %+v, results %+v; want lines 1 and 3 created, line 2 refused as invalid", sum, res)
	}
	for _, email := range []string{"ok1@example.com", "ok2@example.com"} {
		byEmailOf(t, e, email)
	}
	if _, err := e.Service.UserByEmail(t.Context(), e.Tenant.ID, "bad@example.com"); usher.ErrorCode(err) != usher.NotFound {
		t.Errorf("the refused line's user: %v; want not found", err)
	}
}
