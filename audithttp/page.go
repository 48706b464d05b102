package audithttp

import "net/http"

// The admin page. A stub until the page lands.

func (h *handler) pageRoutes(mux *http.ServeMux) {
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "the admin page is not implemented yet", http.StatusNotImplemented)
	})
}
