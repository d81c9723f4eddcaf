// Package api holds the OpenAPI 3 description of vendorq's HTTP enqueue
// API (openapi.json, next to this file). The document is embedded here
// because an embed directive only reaches files under its own package's
// directory; the server in internal/api then serves at /openapi.json the
// very file that is in the repository.
package api

import _ "embed"

// OpenAPI is the content of api/openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte
