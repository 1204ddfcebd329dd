package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/usherhq/usher/internal/usher"
)

var errNoWebhook = usher.Errorf(usher.NotFound, "Webhook not found.")

const webhookColumns = `id, tenant_id, url, events, secret, created_at`

func (s *Store) scanWebhook(row interface{ Scan(...any) error }) (usher.Webhook, error) {
	var w usher.Webhook
	var events string
	var created int64
	if err := row.Scan(idDest{&w.ID}, idDest{&w.TenantID}, &w.URL, &events, &w.Secret, &created); err != nil {
		return w, s.wrap(err)
	}
	w.Events, w.CreatedAt = strings.Fields(events), fromMillis(created)
	return w, nil
}

// CreateWebhook adds an endpoint.
func (t *tx) CreateWebhook(ctx context.Context, w usher.Webhook) error {
	_, err := t.exec(ctx, `INSERT INTO webhook_endpoints (`+webhookColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		t.s.id(w.ID), t.s.id(w.TenantID), w.URL, " "+strings.Join(w.Events, " ")+" ", w.Secret, millis(w.CreatedAt))
	return t.s.wrap(err)
}

// DeleteWebhook removes an endpoint and its undelivered events.
func (t *tx) DeleteWebhook(ctx context.Context, tenantID, id string) error {
	if _, err := t.exec(ctx, `DELETE FROM webhook_deliveries WHERE endpoint_id = $1 AND tenant_id = $2`, t.s.id(id), t.s.id(tenantID)); err != nil {
		return t.s.wrap(err)
	}
	res, err := t.exec(ctx, `DELETE FROM webhook_endpoints WHERE id = $1 AND tenant_id = $2`, t.s.id(id), t.s.id(tenantID))
	if err := t.s.affected(res, err); errors.Is(err, errNotFound) {
		return errNoWebhook
	} else if err != nil {
		return err
	}
	return nil
}

// Webhooks returns a tenant's endpoints, oldest first.
func (s *Store) Webhooks(ctx context.Context, tenantID string) ([]usher.Webhook, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.r.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY created_at, id`, s.id(tenantID))
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []usher.Webhook
	for rows.Next() {
		w, err := s.scanWebhook(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, s.wrap(rows.Err())
}

// ClaimDeliveries leases up to n due deliveries until now+lease, so
// that no other relay takes them meanwhile. An endpoint with a delivery in
// flight (leased and not yet done) gets none: one slow or dead endpoint
// holds at most one batch of one relay, never the others' deliveries. Nor
// does an endpoint whose failed delivery waits for its retry: a dead
// endpoint's queue waits behind its oldest delivery instead of spending
// every delivery's attempts, one timeout each.
// Claims take turns (on PostgreSQL, an advisory lock held by the claim's
// transaction), so that a claim sees every lease made before it.
// n is written into the statement (store.limit): on PostgreSQL each value
// of it (1 to the relay's workers) is a statement of its own in pgx's cache.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, n int) ([]usher.Delivery, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	// Most polls find nothing: look on a reader first, and take the
	// writer (and, on PostgreSQL, the claim lock) only when there is work.
	var due int
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM webhook_deliveries
		WHERE status = 'pending' AND next_attempt_at <= $1 LIMIT 1) AS d`, millis(now)).Scan(&due)
	if err != nil || due == 0 {
		return nil, s.wrap(err)
	}
	x, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer x.Rollback() //nolint:errcheck // committed below; a rollback after that does nothing
	if s.d.ClaimLock != "" {
		if _, err := x.ExecContext(ctx, s.d.ClaimLock); err != nil {
			return nil, s.wrap(err)
		}
	}
	rows, err := x.QueryContext(ctx, `UPDATE webhook_deliveries SET claimed_until = $1, attempts = attempts + 1
		WHERE (event_id, endpoint_id) IN (SELECT event_id, endpoint_id FROM webhook_deliveries
			WHERE status = 'pending' AND next_attempt_at <= $2 AND claimed_until <= $2
			AND endpoint_id NOT IN (SELECT endpoint_id FROM webhook_deliveries WHERE status = 'pending'
				AND (claimed_until > $2 OR last_error <> '' AND next_attempt_at > $2))
			ORDER BY event_id`+limit(n)+s.d.SkipLocked+`)
		RETURNING event_id, endpoint_id, attempts, next_attempt_at`, millis(now.Add(lease)), millis(now))
	if err != nil {
		return nil, s.wrap(err)
	}
	type claimed struct {
		d    usher.Delivery
		next int64
	}
	var cs []claimed
	for rows.Next() {
		var c claimed
		if err := rows.Scan(idDest{&c.d.Event.ID}, idDest{&c.d.Endpoint.ID}, &c.d.Attempts, &c.next); err != nil {
			rows.Close()
			return nil, s.wrap(err)
		}
		cs = append(cs, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.wrap(err)
	}
	if err := x.Commit(); err != nil {
		return nil, s.wrap(err)
	}
	// RETURNING keeps no order (PostgreSQL's follows its join, not the
	// subquery's ORDER BY), and the relay sends an endpoint's deliveries
	// in the order given: oldest event first (ids are UUIDv7).
	slices.SortFunc(cs, func(a, b claimed) int { return strings.Compare(a.d.Event.ID, b.d.Event.ID) })
	keys := make([]usher.Delivery, len(cs))
	for i, c := range cs {
		keys[i] = c.d
	}
	out := keys[:0]
	for _, d := range keys {
		w, err := s.scanWebhook(s.r.QueryRowContext(ctx, `SELECT `+webhookColumns+` FROM webhook_endpoints WHERE id = $1`, s.id(d.Endpoint.ID)))
		if errors.Is(err, sql.ErrNoRows) {
			continue // the endpoint was deleted meanwhile, and its deliveries with it
		}
		if err != nil {
			return nil, err
		}
		e, err := s.scanEvent(s.r.QueryRowContext(ctx, `SELECT `+eventColumns+` FROM events WHERE id = $1`, s.id(d.Event.ID)))
		if errors.Is(err, sql.ErrNoRows) {
			e = usher.Event{ID: d.Event.ID} // pruned before it was sent: the relay gives it up
		} else if err != nil {
			return nil, err
		}
		d.Endpoint, d.Event = w, e
		out = append(out, d)
	}
	return out, nil
}

// MarkDelivered records a delivery as sent.
func (s *Store) MarkDelivered(ctx context.Context, eventID, endpointID string, now time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	// Only a pending delivery: a relay that outlived its lease must not
	// undo what another recorded since.
	_, err := s.w.ExecContext(ctx, `UPDATE webhook_deliveries SET status = 'sent', sent_at = $1, claimed_until = 0, last_error = ''
		WHERE event_id = $2 AND endpoint_id = $3 AND status = 'pending'`, millis(now), s.id(eventID), s.id(endpointID))
	return s.wrap(err)
}

// MarkDeliveryFailed records a failed attempt: tried again at next, or,
// with abandon, given up.
func (s *Store) MarkDeliveryFailed(ctx context.Context, eventID, endpointID string, next time.Time, reason string, abandon bool) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	status := "pending"
	if abandon {
		status = "abandoned"
	}
	_, err := s.w.ExecContext(ctx, `UPDATE webhook_deliveries SET status = $1, next_attempt_at = $2, claimed_until = 0, last_error = $3
		WHERE event_id = $4 AND endpoint_id = $5 AND status = 'pending'`, status, millis(next), truncateReason(reason), s.id(eventID), s.id(endpointID))
	return s.wrap(err)
}

// ReleaseDelivery hands a claimed delivery back unsent, due at next, and
// takes back the attempt its claim counted.
func (s *Store) ReleaseDelivery(ctx context.Context, eventID, endpointID string, next time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.w.ExecContext(ctx, `UPDATE webhook_deliveries SET next_attempt_at = $1, claimed_until = 0, attempts = attempts - 1
		WHERE event_id = $2 AND endpoint_id = $3 AND status = 'pending' AND attempts > 0`, millis(next), s.id(eventID), s.id(endpointID))
	return s.wrap(err)
}
