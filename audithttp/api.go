package audithttp

import "net/http"

// The JSON API. Stubs until the API lands.

func (h *handler) notYet(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotImplemented, "not_implemented", "not implemented yet")
}

func (h *handler) apiList(w http.ResponseWriter, r *http.Request)       { h.notYet(w, r) }
func (h *handler) apiGet(w http.ResponseWriter, r *http.Request)        { h.notYet(w, r) }
func (h *handler) apiSuggest(w http.ResponseWriter, r *http.Request)    { h.notYet(w, r) }
func (h *handler) apiActions(w http.ResponseWriter, r *http.Request)    { h.notYet(w, r) }
func (h *handler) apiExport(w http.ResponseWriter, r *http.Request)     { h.notYet(w, r) }
func (h *handler) apiTail(w http.ResponseWriter, r *http.Request)       { h.notYet(w, r) }
func (h *handler) apiVerify(w http.ResponseWriter, r *http.Request)     { h.notYet(w, r) }
func (h *handler) apiCheckpoint(w http.ResponseWriter, r *http.Request) { h.notYet(w, r) }
