package audithttp

import "net/http"

// MiddlewareOption configures NewMiddleware.
type MiddlewareOption func(*middlewareConfig)

type middlewareConfig struct{}

// Middleware puts the request's audit.Origin into its context, trusting
// no proxy: the IP is the connection's peer address.
func Middleware(next http.Handler) http.Handler { return NewMiddleware()(next) }

// NewMiddleware returns a middleware like Middleware, configured by opts.
func NewMiddleware(opts ...MiddlewareOption) func(http.Handler) http.Handler {
	var c middlewareConfig
	for _, o := range opts {
		o(&c)
	}
	return func(next http.Handler) http.Handler { return next } // stub until the middleware lands
}
