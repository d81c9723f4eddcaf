package worker

import (
	"github.com/vendorq/vendorq/handlers"
	"github.com/vendorq/vendorq/internal/config"
)

// sendWindow is the endpoint's send_window as the handler takes it (nil = none).
func sendWindow(w *config.SendWindow) *handlers.SendWindow {
	if w == nil {
		return nil
	}
	from, to := w.Bounds()
	return &handlers.SendWindow{From: from, To: to, Lanes: w.HeldLanes()}
}
