package api

import "context"

type callerKey struct{}

// WithCaller attaches the socket caller to a request context. The daemon
// does this for every connection before any handler runs.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFromContext returns the caller the daemon attached to ctx.
func CallerFromContext(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// Allows reports whether a caller with role r may do what needs role need.
func (r Role) Allows(need Role) bool {
	switch need {
	case RoleUser:
		return r == RoleUser || r == RoleAdmin
	case RoleAdmin:
		return r == RoleAdmin
	}
	return false
}
