package vendorsim

import "net/http"

// Placeholder until the baibaoyun simulator lands (delete this file then).
func (s *Sim) handleBaibaoyun(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }
