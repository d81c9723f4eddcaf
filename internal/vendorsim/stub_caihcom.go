package vendorsim

import "net/http"

// Placeholder until the caihcom simulator lands (delete this file then).
func (s *Sim) handleCaihcom(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }
