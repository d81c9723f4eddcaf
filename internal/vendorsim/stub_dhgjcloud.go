package vendorsim

import "net/http"

// Placeholder until the dhgjcloud simulator lands (delete this file then).
func (s *Sim) handleDhgjToken(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }
func (s *Sim) handleDhgjCall(w http.ResponseWriter, r *http.Request)  { http.NotFound(w, r) }
