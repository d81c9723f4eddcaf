package workercli

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// waitHealthy polls http://addr/healthz until it answers 200 (at most 30 s,
// every 50 ms), failing the test if the command exits first.
func waitHealthy(t *testing.T, addr string, exit <-chan int, stderr fmt.Stringer) {
	t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := hc.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case code := <-exit:
			t.Fatalf("exited %d before %s answered: %s", code, addr, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not healthy within 30s: %v\n%s", addr, err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
