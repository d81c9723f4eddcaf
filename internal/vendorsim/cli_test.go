package vendorsim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMainServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var errb bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- Main(ctx, []string{"--addr", "127.0.0.1:0"}, pw, &errb); _ = pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	var url string
	if _, err := fmt.Sscanf(line, "vendorsim listening on %s", &url); err != nil {
		t.Fatalf("banner %q: %v", line, err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/_sim/stats", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var stats map[string]Stats
	err = json.NewDecoder(resp.Body).Decode(&stats)
	resp.Body.Close()
	if err != nil || len(stats) != 4 {
		t.Fatalf("stats %v %v", stats, err)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop")
	}
}

func TestMainConfigAndUsage(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sim.json")
	if err := os.WriteFile(p, []byte(`{"baibaoyun":{"api_key":"mine","rate":7}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := Main(context.Background(), []string{"--config", p, "--print-config"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d %s", code, errb.String())
	}
	var cfg Config
	if err := json.Unmarshal(out.Bytes(), &cfg); err != nil || cfg.Baibaoyun.APIKey != "mine" || cfg.Baibaoyun.Rate != 7 || cfg.Caihcom.AuthToken == "" {
		t.Fatalf("config %+v %v", cfg, err)
	}
	for _, args := range [][]string{{"--bogus"}, {"--config", filepath.Join(dir, "none.json")}, {"--addr", "256.0.0.1:1"}} {
		errb.Reset()
		if code := Main(context.Background(), args, &out, &errb); code != 2 || !strings.Contains(errb.String(), "vendorsim:") {
			t.Fatalf("%v: exit %d %q", args, code, errb.String())
		}
	}
}
