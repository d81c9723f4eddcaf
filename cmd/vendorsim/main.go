// Command vendorsim serves a simulator of the four vendor APIs. See `vendorsim --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/vendorq/vendorq/internal/vendorsim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := vendorsim.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
