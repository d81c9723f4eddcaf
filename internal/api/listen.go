package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Listen serves s on addr (ctx bounds only the listen itself) in the background and returns the bound address
// (useful with port 0) and a stop function that drains in-flight requests
// for up to 10 seconds. Timeouts bound slow clients: a batch body of
// MaxBatchBytes must arrive within a minute.
func Listen(ctx context.Context, s *Server, addr string) (string, func(), error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("api: listen on %s: %w", addr, err)
	}
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.o.Log.Error().Err(err).Msg("api server stopped")
		}
	}()
	s.o.Log.Info().Str("addr", ln.Addr().String()).Msg("HTTP enqueue API listening")
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		<-done
	}
	return ln.Addr().String(), stop, nil
}
