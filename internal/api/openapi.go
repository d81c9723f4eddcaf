package api

import (
	"net/http"

	openapi "github.com/vendorq/vendorq/api"
)

// handleOpenAPI serves api/openapi.json as embedded at build time.
func (s *Server) handleOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openapi.OpenAPI)
}
