// Package browsertest drives the admin page of package audithttp in a
// headless Chromium (chromedp): paging, typeahead, filters, the event
// view, the live tail, export, and naughty strings rendered as text. It
// is its own module so that the root module takes no dependency on
// chromedp. Without a chromium binary the test skips, unless
// AUDIT_BROWSER_REQUIRED=1.
package browsertest
