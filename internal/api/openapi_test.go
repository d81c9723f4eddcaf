package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/vendorq/vendorq/internal/api"
)

var (
	docOnce sync.Once
	docVal  *openapi3.T
	docErr  error
)

// loadDoc parses and validates api/openapi.json as an OpenAPI 3 document.
func loadDoc(t testing.TB) *openapi3.T {
	t.Helper()
	docOnce.Do(func() {
		b, err := os.ReadFile("../../api/openapi.json")
		if err != nil {
			docErr = err
			return
		}
		docVal, docErr = parseDoc(b)
	})
	if docErr != nil {
		t.Fatalf("api/openapi.json: %v", docErr)
	}
	return docVal
}

func parseDoc(b []byte) (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		return nil, err
	}
	return doc, doc.Validate(context.Background())
}

// checkingTransport validates every answer of the API against the
// document: its status must be documented for the operation and its body
// must match the schema. A request the server accepted (2xx, nothing
// rejected) must also be valid for the document, so the document never
// refuses what the server takes.
type checkingTransport struct {
	t      *testing.T
	base   http.RoundTripper
	doc    *openapi3.T
	report func(format string, args ...any) // nil = t.Errorf
}

func (c *checkingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil && req.GetBody != nil {
		rc, err := req.GetBody()
		if err == nil {
			reqBody, _ = io.ReadAll(rc)
		}
	}
	resp, err := c.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	report := c.report
	if report == nil {
		report = c.t.Errorf
	}

	path := req.URL.Path
	item := c.doc.Paths.Find(path)
	var op *openapi3.Operation
	if item != nil {
		op = item.GetOperation(req.Method)
	}
	if op == nil {
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			report("openapi: %s %s answered %d but is not in the document", req.Method, path, resp.StatusCode)
		}
		return resp, nil
	}
	route := &routers.Route{Spec: c.doc, Path: path, PathItem: item, Method: req.Method, Operation: op}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: req, Route: route, Options: opts}
	rin := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Options: opts}
	rin.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(req.Context(), rin); err != nil {
		report("openapi: %s %s answer %d does not match the document: %v\nbody: %.300s", req.Method, path, resp.StatusCode, err, body)
	}
	var br struct{ Rejected *int }
	_ = json.Unmarshal(body, &br)
	accepted := resp.StatusCode/100 == 2 && req.Method == http.MethodPost && (br.Rejected == nil || *br.Rejected == 0)
	if accepted {
		r2 := req.Clone(req.Context())
		r2.Body = io.NopCloser(bytes.NewReader(reqBody))
		if r2.Header.Get("Content-Type") == "" {
			r2.Header.Set("Content-Type", "application/json")
		}
		in2 := &openapi3filter.RequestValidationInput{Request: r2, Route: route, Options: opts}
		if err := openapi3filter.ValidateRequest(req.Context(), in2); err != nil {
			report("openapi: the server accepted %s %s but the document rejects the request: %v", req.Method, path, err)
		}
	}
	return resp, nil
}

// The served document is the file in the repository, parses as OpenAPI 3,
// and lists exactly the routes the server answers.
func TestOpenAPIServedAndComplete(t *testing.T) {
	e := newEnv(t)
	a := e.do("GET", "/openapi.json", "", "Authorization", "")
	if a.status != http.StatusOK || !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d type %q", a.status, a.header.Get("Content-Type"))
	}
	file, err := os.ReadFile("../../api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.body, file) {
		t.Fatal("/openapi.json differs from api/openapi.json")
	}
	doc, err := parseDoc(a.body)
	if err != nil {
		t.Fatalf("served document is not valid OpenAPI 3: %v", err)
	}
	var inDoc, inServer []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			inDoc = append(inDoc, method+" "+path)
		}
	}
	for _, r := range e.server.Routes() {
		inServer = append(inServer, r.Method+" "+r.Path)
	}
	sort.Strings(inDoc)
	sort.Strings(inServer)
	if strings.Join(inDoc, "\n") != strings.Join(inServer, "\n") {
		t.Fatalf("document routes:\n%s\nserver routes:\n%s", strings.Join(inDoc, "\n"), strings.Join(inServer, "\n"))
	}
	// Every authenticated route declares the bearer scheme and its 401.
	for _, r := range e.server.Routes() {
		op := doc.Paths.Find(r.Path).GetOperation(r.Method)
		if strings.HasPrefix(r.Path, "/v1/") {
			if op.Security == nil || len(*op.Security) == 0 || op.Responses.Status(401) == nil || op.Responses.Status(413) == nil {
				t.Errorf("%s %s: bearer security, 401 or 413 not documented", r.Method, r.Path)
			}
		}
	}
	// The documented limits are the code's.
	var raw map[string]any
	if err := json.Unmarshal(file, &raw); err != nil {
		t.Fatal(err)
	}
	desc := doc.Info.Description
	for _, s := range []string{"262144 bytes", "16777216 bytes", "1000 items"} {
		if !strings.Contains(desc, s) {
			t.Errorf("info.description does not state %q", s)
		}
	}
	if api.MaxTaskBytes != 262144 || api.MaxBatchBytes != 16777216 || api.MaxBatchItems != 1000 {
		t.Errorf("limits changed: update api/openapi.json")
	}
}

// The checker is not vacuous: an answer the document does not describe,
// and a request the document would refuse, are both reported.
func TestCheckerCatchesMismatch(t *testing.T) {
	b, err := os.ReadFile("../../api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	// A document where the record route has no 202 and SMS content needs 5 characters.
	rec := raw["paths"].(map[string]any)["/v1/tasks/record"].(map[string]any)["post"].(map[string]any)
	delete(rec["responses"].(map[string]any), "202")
	sms := raw["components"].(map[string]any)["schemas"].(map[string]any)["SMSSend"].(map[string]any)
	sms["properties"].(map[string]any)["content"].(map[string]any)["minLength"] = 5
	mod, _ := json.Marshal(raw)
	doc, err := parseDoc(mod)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	var got []string
	e.client.Transport = &checkingTransport{t: t, base: http.DefaultTransport, doc: doc, report: func(f string, a ...any) {
		got = append(got, fmt.Sprintf(f, a...))
	}}
	if a := e.do("POST", "/v1/tasks/record", goodRecord); a.status != http.StatusAccepted {
		t.Fatalf("status %d", a.status)
	}
	if a := e.do("POST", "/v1/tasks/sms", goodSMS); a.status != http.StatusAccepted {
		t.Fatalf("status %d", a.status)
	}
	if len(got) != 2 || !strings.Contains(got[0], "answer 202 does not match") || !strings.Contains(got[1], "document rejects the request") {
		t.Fatalf("reports: %q", got)
	}
}
