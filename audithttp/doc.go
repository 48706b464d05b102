// Package audithttp serves an audit log over HTTP: a read-only JSON API, an
// admin page with typeahead search, and a middleware that records each
// request's origin (client IP, user agent, request id) for Track.
//
// Mount the handler under any prefix, behind the application's own
// authentication:
//
//	mux.Handle("/admin/audit/", http.StripPrefix("/admin/audit", requireAdmin(audithttp.Handler(log))))
//
// The handler never writes to the log and adds no login of its own. With
// WithTenantFunc it serves one tenant per request, through
// Logger.WithTenant, so a request never sees another tenant's events.
//
// Routes, relative to where the handler is mounted:
//
//	GET  /                     the admin page: events, filters, paging
//	GET  /events/{id}          the admin page: one event
//	GET  /api/events           a page of events (every Query filter as a parameter)
//	GET  /api/events/{id}      one event
//	GET  /api/suggest?q=       typeahead suggestions
//	GET  /api/actions?prefix=  the action catalogue
//	GET  /api/export           CSV or JSONL, streamed (format=csv|jsonl)
//	GET  /api/tail             Server-Sent Events, resuming from Last-Event-ID
//	GET  /api/verify           Verify (only WithOperator)
//	POST /api/checkpoint       Checkpoint (only WithOperator)
//
// Errors from /api/ are JSON, {"error": {"code": "...", "message": "..."}},
// with a stable code and status (see the Code constants).
package audithttp
