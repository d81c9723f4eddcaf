# syntax=docker/dockerfile:1
# The vendorq worker: a static binary on a distroless, non-root base.
#   docker build -t vendorq/worker .
#   docker run --rm vendorq/worker --help
FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first: this layer is reused until go.mod/go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/worker ./cmd/worker

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/worker /usr/local/bin/worker
USER nonroot:nonroot
# The dashboard, /metrics and /healthz (with --dashboard 0.0.0.0:8080 and credentials).
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/worker"]
CMD ["--config", "/etc/vendorq/vendorq.yaml", "--dashboard", "0.0.0.0:8080"]
