package vendorsim

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// dhgjcloud (工匠云, docs/vendors.md, dhgjcloud): an OAuth2 client-credentials token endpoint
// whose every call issues a new token and invalidates the current one, and
// business paths (any path: the task's table) that accept only the headers
// of the vendor's sample, a current bearer token, and Rate calls a second.
//
// The token endpoint is not subject to injected faults and is not counted in
// Calls/MaxInWindow (those describe business calls); it counts the tokens it
// issues in Stats.Tokens and refusals in Codes as "token_<error>".

// dhgjAllowedHeaders are the only request headers the vendor's sample shows
// (Host is not in r.Header). Anything else is answered 400, as the vendor
// warns it may: that catches Go's default User-Agent and Accept-Encoding.
var dhgjAllowedHeaders = map[string]bool{
	"Authorization":  true,
	"Content-Type":   true,
	"Content-Length": true,
}

// SetDhgjTokenTTL sets the life of dhgjcloud tokens issued from now on
// (whole seconds are what expires_in can express; it reports at least 1).
// d <= 0 restores Config.Dhgjcloud.TokenTTL.
func (s *Sim) SetDhgjTokenTTL(d time.Duration) {
	s.mu.Lock()
	s.dhgjTTL = max(d, 0)
	s.mu.Unlock()
}

// handleDhgjToken is POST /oauth/token (client credentials, form-encoded).
func (s *Sim) handleDhgjToken(w http.ResponseWriter, r *http.Request) {
	if k := dhgjUnexpectedHeader(r); k != "" {
		s.dhgjTokenError(w, http.StatusBadRequest, "invalid_request", "unexpected header "+k)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" || r.ParseForm() != nil {
		s.dhgjTokenError(w, http.StatusBadRequest, "invalid_request", "form-encoded body required")
		return
	}
	cfg := s.cfg.Dhgjcloud
	// Credentials only from the body (PostForm), never from the query string.
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if subtle.ConstantTimeCompare([]byte(id), []byte(cfg.ClientID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(cfg.ClientSecret)) != 1 {
		s.dhgjTokenError(w, http.StatusUnauthorized, "invalid_client", "Bad client credentials")
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		s.dhgjTokenError(w, http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant type")
		return
	}

	tok := dhgjNewToken()
	s.mu.Lock()
	ttl := s.dhgjTTL
	if ttl == 0 {
		ttl = cfg.TokenTTL
	}
	// The new token replaces (and so invalidates) the current one.
	s.dhgjToken, s.dhgjExpiry = tok, s.now().Add(ttl)
	s.stats[TargetDhgjcloud].Tokens++
	s.mu.Unlock()

	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"token_type":   "bearer",
		"expires_in":   max(int64(ttl/time.Second), 1),
		"scope":        r.PostForm.Get("scope"),
	})
}

func (s *Sim) dhgjTokenError(w http.ResponseWriter, status int, code, desc string) {
	s.count(TargetDhgjcloud, "token_"+code, false, "")
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// handleDhgjCall answers every other path: a dhgjcloud business call.
func (s *Sim) handleDhgjCall(w http.ResponseWriter, r *http.Request) {
	// Read the body first: only then does net/http watch the connection and
	// cancel r.Context() when the client goes away during injected latency.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	inj, ok := s.begin(w, r, TargetDhgjcloud)
	if !ok {
		return
	}
	if inj.Code != "" {
		s.dhgjInjected(w, inj)
		return
	}
	if r.Method != http.MethodPost {
		s.dhgjHTTPError(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	if k := dhgjUnexpectedHeader(r); k != "" {
		s.dhgjHTTPError(w, http.StatusBadRequest, "Bad Request: unexpected header "+k)
		return
	}
	if !s.dhgjAuthorized(r.Header.Get("Authorization")) {
		s.count(TargetDhgjcloud, "http_401", false, "")
		// Never echo the token (a real server does; it would leak into logs).
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "Invalid access token"})
		return
	}

	s.mu.Lock()
	over := s.dhgjWindow.add(s.now()) > s.cfg.Dhgjcloud.Rate
	s.mu.Unlock()
	if over {
		w.Header().Set("Retry-After", "1")
		s.dhgjHTTPError(w, http.StatusTooManyRequests, "接口请求频率超过限制")
		return
	}

	canon, ok := dhgjCanonicalObject(r.Header.Get("Content-Type"), body)
	if err != nil || !ok {
		s.count(TargetDhgjcloud, "400", false, "")
		writeJSON(w, http.StatusOK, map[string]any{"code": 400, "message": "参数错误"})
		return
	}
	s.mu.Lock()
	s.countLocked(TargetDhgjcloud, "ok", true, r.URL.Path+" "+canon)
	id := s.stats[TargetDhgjcloud].Accepted
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"code": 200, "message": "success", "data": map[string]string{"id": strconv.FormatInt(id, 10)}})
}

// dhgjUnexpectedHeader returns the first request header the vendor's
// samples do not show, "" when there is none. The document's rule applies to
// every request, the token request included.
func dhgjUnexpectedHeader(r *http.Request) string {
	for k := range r.Header {
		if !dhgjAllowedHeaders[k] {
			return k
		}
	}
	if len(r.TransferEncoding) > 0 { // the samples have Content-Length, not chunks
		return "Transfer-Encoding"
	}
	return ""
}

// dhgjAuthorized reports whether h is "bearer <current, unexpired token>"
// (the scheme is case-insensitive, as in OAuth2).
func (s *Sim) dhgjAuthorized(h string) bool {
	scheme, tok, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "bearer") || tok == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dhgjToken != "" && s.now().Before(s.dhgjExpiry) &&
		subtle.ConstantTimeCompare([]byte(tok), []byte(s.dhgjToken)) == 1
}

// dhgjCanonicalObject returns the JSON object body re-encoded with sorted
// keys (the idempotency data), or ok=false when the body is not a JSON
// object sent as application/json (the vendor's 参数错误).
func dhgjCanonicalObject(contentType string, raw []byte) (string, bool) {
	if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != "application/json" {
		return "", false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if dec.Decode(&obj) != nil || obj == nil || dec.More() {
		return "", false
	}
	canon, err := json.Marshal(obj)
	if err != nil {
		return "", false
	}
	return string(canon), true
}

// dhgjInjected renders an injected code: "http_NNN" as that HTTP status,
// anything else as HTTP 200 with that business code.
func (s *Sim) dhgjInjected(w http.ResponseWriter, inj injected) {
	if inj.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(inj.RetryAfter))
	}
	if st, isHTTP := strings.CutPrefix(inj.Code, "http_"); isHTTP {
		status, err := strconv.Atoi(st)
		if err != nil || status < 100 || status > 999 {
			status = http.StatusInternalServerError
		}
		if status == http.StatusUnauthorized {
			s.ExpireDhgjToken() // as a real expiry would: the token stays invalid
		}
		s.dhgjHTTPError(w, status, http.StatusText(status))
		return
	}
	s.count(TargetDhgjcloud, inj.Code, false, "")
	var code any = inj.Code
	if n, err := strconv.Atoi(inj.Code); err == nil {
		code = n
	}
	writeJSON(w, http.StatusOK, map[string]any{"code": code, "message": "injected error " + inj.Code})
}

// dhgjHTTPError answers a bare HTTP error, counted as "http_NNN".
func (s *Sim) dhgjHTTPError(w http.ResponseWriter, status int, msg string) {
	s.count(TargetDhgjcloud, "http_"+strconv.Itoa(status), false, "")
	writeJSON(w, status, map[string]any{"code": status, "message": msg})
}

// dhgjNewToken returns a random version-4 UUID, the form of the vendor's tokens.
func dhgjNewToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥1.24)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
