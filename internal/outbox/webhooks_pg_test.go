package outbox_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/store/postgres"
	"github.com/usherhq/usher/internal/store/postgres/pgtest"
	"github.com/usherhq/usher/internal/usher"
)

// TestWebhookClaimsOnPostgresNeverShareAnEndpoint races the relays of
// several nodes for one endpoint's deliveries on the real PostgreSQL store:
// the DeliveryStore contract is that no relay (on any node) gets an
// endpoint that has a delivery in flight, so at most one concurrent claim
// may return the endpoint's deliveries.
func TestWebhookClaimsOnPostgresNeverShareAnEndpoint(t *testing.T) {
	// ClaimDeliveries' "endpoint has none in flight" test reads a snapshot:
	// without claims taking turns (Dialect.ClaimLock), a relay could not
	// see another's uncommitted claim, and SKIP LOCKED would hand it the
	// endpoint's next deliveries.
	dsn := pgtest.DSN(t)
	st, err := postgres.Open(t.Context(), dsn, postgres.Options{})
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.EnsureTenant(t.Context(), usher.Tenant{
		ID: usher.DefaultTenantID, Name: "default", PublicKey: "pk_test_default", CreatedAt: t0,
	}); err != nil {
		t.Fatalf("EnsureTenant: %v", err)
	}
	hook := usher.Webhook{ID: usher.NewID(t0), TenantID: usher.DefaultTenantID, URL: "https://hooks.example.com/",
		Events: []string{"*"}, Secret: "sealed", CreatedAt: t0}
	if err := st.Update(t.Context(), func(ctx context.Context, tx account.Tx) error { return tx.CreateWebhook(ctx, hook) }); err != nil {
		t.Fatalf("CreateWebhook: %v", err)
	}

	const rounds, relays, perRound = 20, 8, 40
	for round := range rounds {
		for range perRound {
			e := usher.Event{ID: usher.NewID(t0), TenantID: usher.DefaultTenantID, Time: t0, Type: "user.created",
				Actor: "cli", Detail: []byte("{}")}
			if err := st.Update(t.Context(), func(ctx context.Context, tx account.Tx) error { return tx.AppendEvent(ctx, e) }); err != nil {
				t.Fatalf("AppendEvent: %v", err)
			}
		}
		// Each round claims at a later time, so the last round's leases
		// have lapsed and its deliveries (marked sent below) are done.
		at := t0.Add(time.Duration(round+1) * time.Hour)
		got := make([]int, relays)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range relays {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ds, err := st.ClaimDeliveries(context.Background(), at, time.Minute, 4)
				if err != nil {
					t.Errorf("ClaimDeliveries: %v", err)
				}
				got[i] = len(ds)
			}()
		}
		close(start)
		wg.Wait()
		holders := 0
		for _, n := range got {
			if n > 0 {
				holders++
			}
		}
		if holders != 1 {
			t.Errorf("round %d: deliveries each relay leased %v: want the endpoint leased to exactly one relay", round, got)
		}
		if _, err := st.DB().ExecContext(t.Context(), `UPDATE webhook_deliveries SET status = 'sent'`); err != nil {
			t.Fatal(err)
		}
	}
}
