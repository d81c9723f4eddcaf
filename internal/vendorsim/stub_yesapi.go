package vendorsim

import "net/http"

// Placeholder until the yesapi simulator lands (delete this file then).
func (s *Sim) handleYesapi(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }
