// Package api holds the HTTP machinery every surface shares: route tables
// in which every route names its guard, strict request decoding, the rules
// of error responses, and the common middleware. A surface package brings
// only its routes, its guards and how it renders errors.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/usherhq/usher/internal/usher"
)

// Status maps an error code to its HTTP status.
func Status(code usher.Code) int {
	switch code {
	case usher.Invalid, usher.InvalidJSON, usher.InvalidEmail, usher.InvalidPassword, usher.InvalidData, usher.InvalidCode:
		return http.StatusBadRequest
	case usher.Unauthorized, usher.MFARequired:
		return http.StatusUnauthorized
	case usher.Forbidden:
		return http.StatusForbidden
	case usher.NotFound:
		return http.StatusNotFound
	case usher.MethodNotAllow:
		return http.StatusMethodNotAllowed
	case usher.EmailTaken, usher.Conflict:
		return http.StatusConflict
	case usher.TooLarge:
		return http.StatusRequestEntityTooLarge
	case usher.MediaType:
		return http.StatusUnsupportedMediaType
	case usher.RateLimited:
		return http.StatusTooManyRequests
	case usher.Unavailable, usher.Overloaded:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// errorWriter applies the rules every error response follows, then has the
// surface render it.
type errorWriter struct {
	log    *slog.Logger
	render Renderer
}

// write answers err. A client that went away gets nothing; internal causes
// are logged here, once, and never rendered; 429 and 503 carry Retry-After.
func (e errorWriter) write(w http.ResponseWriter, r *http.Request, err error) {
	ctx := r.Context()
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return // the client went away; nobody to answer
	}
	code := usher.ErrorCode(err)
	if errors.Is(err, context.DeadlineExceeded) {
		code = usher.Unavailable
	}
	status := Status(code)
	switch {
	case status >= 500 && code == usher.Internal:
		e.log.ErrorContext(ctx, "request failed", "event", "internal_error", "error", err)
	case code == usher.Overloaded:
		// Back-pressure under a flood: one line per refusal would turn the
		// flood into log volume. The metrics count them.
		e.log.DebugContext(ctx, "request refused", "event", string(code))
	case status >= 500:
		e.log.WarnContext(ctx, "request refused", "event", string(code), "error", err)
	}
	if status == http.StatusTooManyRequests {
		// A client over its limit gives its connection back: one that
		// keeps many alive cannot hold them while it is refused.
		w.Header().Set("Connection", "close")
	}
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		if w.Header().Get("Retry-After") == "" {
			secs := int(math.Ceil(usher.RetryAfter(err).Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		}
	}
	e.render(w, r, status, code, err)
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    usher.Code `json:"code"`
	Message string     `json:"message"`
}

// RenderNative renders an error as the backend and public surfaces do:
// {"error": {"code", "message"}}, the message safe to show.
func RenderNative(w http.ResponseWriter, _ *http.Request, status int, code usher.Code, err error) {
	msg := usher.ErrorMessage(err)
	if code == usher.Internal {
		msg = "An internal error occurred."
	}
	WriteJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: msg}})
}

// WriteJSON writes v as a JSON response.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // only our own response types reach here
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal_error","message":"An internal error occurred."}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
