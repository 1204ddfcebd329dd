package usher

import "context"

// Caller is what a request's context knows of who sent it.
type Caller interface {
	// ClientAddr is the address the caller is counted under for limits
	// and lockout: its IP (an IPv6 /64), or "" when unknown.
	ClientAddr() string
}

type callerKey struct{}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerOf returns the Caller that ctx carries, or nil.
func CallerOf(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	return c
}

// ClientAddr returns the client address of ctx's caller, or "".
func ClientAddr(ctx context.Context) string {
	if c := CallerOf(ctx); c != nil {
		return c.ClientAddr()
	}
	return ""
}

// Origin is what a caller may also know of itself, for the sessions it
// starts and the audit log: the surface it came through, its IP, its user
// agent and the request's id.
type Origin interface {
	Surface() string
	ClientIP() string
	UserAgent() string
	RequestID() string
}

// RequestIDOf returns the id of ctx's request, or "".
func RequestIDOf(ctx context.Context) string {
	if o, ok := CallerOf(ctx).(Origin); ok {
		return o.RequestID()
	}
	return ""
}

// OriginOf returns where ctx's caller came from; empty fields when unknown.
func OriginOf(ctx context.Context) (surface, ip, userAgent string) {
	if o, ok := CallerOf(ctx).(Origin); ok {
		return o.Surface(), o.ClientIP(), o.UserAgent()
	}
	return "", "", ""
}
