package store

import (
	"context"

	"github.com/usherhq/usher/internal/usher"
)

const eventColumns = `id, tenant_id, time, type, user_id, actor, ip, request_id, detail`

// AppendEvent writes an event to the audit log and, in the same statement
// pair, a pending delivery for every webhook endpoint of its tenant that
// takes its type.
func (t *tx) AppendEvent(ctx context.Context, e usher.Event) error {
	var user any
	if e.UserID != "" {
		user = t.s.id(e.UserID)
	}
	detail := string(e.Detail)
	if detail == "" {
		detail = "{}"
	}
	if _, err := t.exec(ctx, qAppendEvent, t.s.id(e.ID), t.s.id(e.TenantID), millis(e.Time), e.Type, user,
		e.Actor, e.IP, e.RequestID, detail); err != nil {
		return t.s.wrap(err)
	}
	_, err := t.exec(ctx, qQueueDeliveries, t.s.id(e.ID), millis(e.Time), t.s.id(e.TenantID), "% "+likeEscaper.Replace(e.Type)+" %")
	return t.s.wrap(err)
}

const (
	qAppendEvent     = `INSERT INTO events (` + eventColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	qQueueDeliveries = `INSERT INTO webhook_deliveries (event_id, endpoint_id, tenant_id, status, next_attempt_at, created_at)
		SELECT $1, id, tenant_id, 'pending', $2, $2 FROM webhook_endpoints
		WHERE tenant_id = $3 AND (events LIKE '% * %' OR events LIKE $4 ESCAPE '\')`
)

func (s *Store) scanEvent(row interface{ Scan(...any) error }) (usher.Event, error) {
	var e usher.Event
	var at int64
	var detail string
	if err := row.Scan(idDest{&e.ID}, idDest{&e.TenantID}, &at, &e.Type, nullIDDest{&e.UserID}, &e.Actor, &e.IP, &e.RequestID, &detail); err != nil {
		return e, s.wrap(err)
	}
	e.Time, e.Detail = fromMillis(at), []byte(detail)
	return e, nil
}

// Events returns a page of a tenant's events in the log's order.
func (s *Store) Events(ctx context.Context, q usher.EventQuery) ([]usher.Event, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	w := &where{}
	w.add("tenant_id = ?", s.id(q.TenantID))
	if q.UserID != "" {
		w.add("user_id = ?", s.id(q.UserID))
	}
	if len(q.Types) > 0 {
		in := params(len(w.args), len(q.Types))
		for _, typ := range q.Types {
			w.args = append(w.args, typ)
		}
		w.conds = append(w.conds, "type IN ("+in+")")
	}
	if q.AfterID != "" {
		w.add("id > ?", s.id(q.AfterID))
	}
	if q.MinID != "" {
		w.add("id >= ?", s.id(q.MinID))
	}
	if q.MaxID != "" {
		w.add("id < ?", s.id(q.MaxID))
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+eventColumns+` FROM events WHERE `+w.String()+
		` ORDER BY id`+limit(q.Limit), s.replan(w.args)...)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []usher.Event
	for rows.Next() {
		e, err := s.scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, s.wrap(rows.Err())
}

// PruneEvents deletes up to most events older than before (whose ids are
// below beforeID) and returns how many it deleted: a retention job calls
// it until it deletes fewer than most, so no one statement holds the
// writer long.
func (s *Store) PruneEvents(ctx context.Context, beforeID string, most int) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	res, err := s.w.ExecContext(ctx, `DELETE FROM events WHERE id IN (SELECT id FROM events WHERE id < $1 ORDER BY id`+limit(most)+`)`,
		s.id(beforeID))
	if err != nil {
		return 0, s.wrap(err)
	}
	n, err := res.RowsAffected()
	return int(n), s.wrap(err)
}
