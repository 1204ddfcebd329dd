package backend

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/usher"
)

// event is the wire form of an audit-log entry.
type event struct {
	ID        string          `json:"id"`
	Time      string          `json:"time"`
	Type      string          `json:"type"`
	UserID    *string         `json:"user_id"`
	Actor     string          `json:"actor"`
	IP        string          `json:"ip"`
	RequestID string          `json:"request_id"`
	Detail    json.RawMessage `json:"detail"`
}

// EventOf returns the wire form of e: the audit log's entries on the
// backend API and in webhook payloads.
func EventOf(e usher.Event) any {
	out := event{
		ID: e.ID, Time: e.Time.UTC().Format(api.TimeFormat), Type: e.Type, Actor: e.Actor, IP: e.IP,
		RequestID: e.RequestID, Detail: e.Detail,
	}
	if e.UserID != "" {
		out.UserID = &e.UserID
	}
	if len(out.Detail) == 0 {
		out.Detail = json.RawMessage("{}")
	}
	return out
}

// events is GET /events: a page of the audit log, oldest first.
func (h *Handler) events(w http.ResponseWriter, r *http.Request) error {
	tid, err := h.tenant(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if err := onlyParams(q, "limit", "cursor", "user", "type", "after", "before"); err != nil {
		return err
	}
	p := params{q: q}
	in := account.EventQuery{Limit: p.int("limit"), Cursor: q.Get("cursor"), UserID: q.Get("user"),
		After: p.time("after"), Before: p.time("before")}
	if t := q.Get("type"); t != "" {
		in.Types = strings.Split(t, ",")
	}
	if p.err != nil {
		return p.err
	}
	page, err := h.accounts.Events(r.Context(), tid, in)
	if err != nil {
		return err
	}
	body := struct {
		Events     []any   `json:"events"`
		NextCursor *string `json:"next_cursor"`
	}{Events: make([]any, len(page.Events))}
	for i, e := range page.Events {
		body.Events[i] = EventOf(e)
	}
	if page.Next != "" {
		body.NextCursor = &page.Next
	}
	api.WriteJSON(w, http.StatusOK, body)
	return nil
}

type webhookBody struct {
	ID        string   `json:"id"`
	URL       string   `json:"url"`
	Events    []string `json:"events"`
	Secret    string   `json:"secret,omitempty"` // only when created
	CreatedAt string   `json:"created_at"`
}

func webhookOf(wh usher.Webhook) webhookBody {
	return webhookBody{ID: wh.ID, URL: wh.URL, Events: wh.Events, CreatedAt: wh.CreatedAt.UTC().Format(api.TimeFormat)}
}

// createWebhook is POST /webhooks {url, events}: 201 with the signing
// secret, shown this once.
func (h *Handler) createWebhook(w http.ResponseWriter, r *http.Request) error {
	tid, err := h.tenant(r)
	if err != nil {
		return err
	}
	var req struct {
		URL    string   `json:"url"`
		Events []string `json:"events"`
	}
	if err := api.Decode(r, &req); err != nil {
		return err
	}
	wh, secret, err := h.accounts.CreateWebhook(r.Context(), tid, req.URL, req.Events)
	if err != nil {
		return err
	}
	body := webhookOf(wh)
	body.Secret = secret
	w.Header().Set("Location", "/webhooks/"+wh.ID)
	api.WriteJSON(w, http.StatusCreated, body)
	return nil
}

func (h *Handler) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	tid, err := h.tenant(r)
	if err != nil {
		return err
	}
	ws, err := h.accounts.Webhooks(r.Context(), tid)
	if err != nil {
		return err
	}
	body := struct {
		Webhooks []webhookBody `json:"webhooks"`
	}{Webhooks: make([]webhookBody, len(ws))}
	for i, wh := range ws {
		body.Webhooks[i] = webhookOf(wh)
	}
	api.WriteJSON(w, http.StatusOK, body)
	return nil
}

func (h *Handler) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	tid, err := h.tenant(r)
	if err != nil {
		return err
	}
	if err := h.accounts.DeleteWebhook(r.Context(), tid, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
