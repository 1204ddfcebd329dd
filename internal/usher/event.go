package usher

import (
	"context"
	"encoding/json"
	"time"
)

// Event is one entry of the audit log: a state change or an
// authentication, written in the transaction of what it records. It never
// holds a secret (no password, code, token or hash).
type Event struct {
	ID        string // time-ordered (a UUIDv7): the log's order and cursor
	TenantID  string
	Time      time.Time
	Type      string // dotted and stable: "user.created", "login.failed", ...
	UserID    string // "" when the event concerns no one user
	Actor     string // who acted: "backend:<client certificate CN>", "thunder:<app>", "public", "user", "cli"
	IP        string
	RequestID string
	Detail    json.RawMessage // a small JSON object
}

// EventQuery selects a page of a tenant's events, oldest first. Zero
// fields select everything.
type EventQuery struct {
	TenantID string
	UserID   string
	Types    []string
	AfterID  string // the cursor: events after this id
	// MinID and MaxID bound the ids, and so the times (ids are
	// time-ordered): MinID inclusive, MaxID exclusive.
	MinID, MaxID string
	Limit        int
}

type actorKey struct{}

// WithActor returns ctx naming who acts in it.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorOf returns who acts in ctx: the actor set with WithActor, else the
// request's own (its surface, and the backend's client certificate), else
// "".
func ActorOf(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok {
		return a
	}
	if a, ok := CallerOf(ctx).(interface{ Actor() string }); ok {
		return a.Actor()
	}
	return ""
}

// Webhook is an endpoint that events of some types are posted to.
type Webhook struct {
	ID        string
	TenantID  string
	URL       string
	Events    []string // event types; "*" for all
	Secret    string   // sealed with the data key
	CreatedAt time.Time
}

// Delivery is one event on its way to one webhook endpoint.
type Delivery struct {
	Event    Event // zero when the event was pruned before it was sent
	Endpoint Webhook
	Attempts int
}
