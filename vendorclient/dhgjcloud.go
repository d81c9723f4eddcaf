package vendorclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
)

// dhgjcloud (工匠云) REST API, docs/vendors.md (dhgjcloud): OAuth2 client
// credentials, "Authorization: bearer <token>" on every call, and no header
// the document's sample does not show. The token is shared through Redis by
// every process (see dhgjcloud_token.go), because each call to
// /oauth/token invalidates the token everybody else is using.

// DhgjcloudDefaultBaseURL is the production address from the vendor's document.
const DhgjcloudDefaultBaseURL = "http://saeapi.dhgjcloud.com:18081"

// DhgjcloudConfig configures a dhgjcloud client.
type DhgjcloudConfig struct {
	BaseURL      string // default DhgjcloudDefaultBaseURL
	ClientID     string // required
	ClientSecret string // required
	Scope        string // optional, always sent as scope= (empty allowed)
	// Redis holds the token shared by every process (required).
	Redis redis.UniversalClient
	// TokenKey is the Redis key of the shared token, e.g. "vq:{gjy}:dhgj:token"
	// (required). The lock is TokenKey+":lock"; give TokenKey a hash tag so
	// both land in one Redis Cluster slot (the scripts touch both).
	TokenKey string
	// HTTPClient defaults to NewHTTPClient(Timeout). A client given here must
	// not add Accept-Encoding (an *http.Transport needs DisableCompression),
	// because the vendor answers 400 to headers its sample does not show.
	// Redirects are refused either way.
	HTTPClient *http.Client
	// Timeout bounds each request, the token request included (default
	// DefaultTimeout); the token lock lives Timeout+5s so it cannot expire
	// under a live token request.
	Timeout time.Duration
}

// Dhgjcloud is a dhgjcloud client; it is safe for concurrent use and
// implements RecordCreator.
type Dhgjcloud struct {
	base          *url.URL
	clientID      string
	clientSecret  string
	scope         string
	rdb           redis.UniversalClient
	tokenKey      string
	lockKey       string
	tr            *transport
	lockTTL       time.Duration
	tokenRequests atomic.Int64
}

var _ RecordCreator = (*Dhgjcloud)(nil)

// NewDhgjcloud checks cfg and returns a client; the error names the bad field.
func NewDhgjcloud(cfg DhgjcloudConfig) (*Dhgjcloud, error) {
	switch {
	case cfg.ClientID == "":
		return nil, configError(VendorDhgjcloud, "ClientID is required")
	case cfg.ClientSecret == "":
		return nil, configError(VendorDhgjcloud, "ClientSecret is required")
	case cfg.Redis == nil:
		return nil, configError(VendorDhgjcloud, "Redis is required (the token is shared through it)")
	case cfg.TokenKey == "":
		return nil, configError(VendorDhgjcloud, "TokenKey is required")
	case cfg.HTTPClient != nil && !dhgjNoCompression(cfg.HTTPClient.Transport):
		return nil, configError(VendorDhgjcloud, "HTTPClient adds Accept-Encoding (set Transport.DisableCompression), which the vendor rejects")
	}
	raw, err := baseURL(VendorDhgjcloud, cfg.BaseURL, DhgjcloudDefaultBaseURL)
	if err != nil {
		return nil, err
	}
	base, _ := url.Parse(strings.TrimRight(raw, "/")) // checked by baseURL
	tr := newTransport(VendorDhgjcloud, cfg.HTTPClient, cfg.Timeout, cfg.ClientSecret)
	return &Dhgjcloud{
		base:         base,
		clientID:     cfg.ClientID,
		clientSecret: cfg.ClientSecret,
		scope:        cfg.Scope,
		rdb:          cfg.Redis,
		tokenKey:     cfg.TokenKey,
		lockKey:      cfg.TokenKey + ":lock",
		tr:           tr,
		lockTTL:      tr.timeout + 5*time.Second,
	}, nil
}

// dhgjNoCompression reports whether rt will not add Accept-Encoding: gzip.
// A nil transport is http.DefaultTransport, which does; a custom
// RoundTripper is trusted (the caller owns what it sends).
func dhgjNoCompression(rt http.RoundTripper) bool {
	if rt == nil {
		return false
	}
	if t, ok := rt.(*http.Transport); ok {
		return t.DisableCompression
	}
	return true
}

// TokenRequests returns how many calls this instance made to /oauth/token.
func (c *Dhgjcloud) TokenRequests() int64 { return c.tokenRequests.Load() }

// CreateRecord POSTs data (a JSON object, sent compact as application/json)
// to {base}/{path}; path is the task's table, the leading "/" optional, sent
// as is (percent-encoded where needed). On HTTP 401 the shared token is
// dropped (unless someone already replaced it) and the call is retried once
// with the next token; a second 401 is a ClassToken error.
func (c *Dhgjcloud) CreateRecord(ctx context.Context, path string, data json.RawMessage) (RecordResult, error) {
	u, err := c.recordURL(path)
	if err != nil {
		return RecordResult{}, err
	}
	body, err := compactObject(VendorDhgjcloud, data)
	if err != nil {
		return RecordResult{}, err
	}
	for attempt := 1; ; attempt++ {
		tok, err := c.token(ctx)
		if err != nil {
			return RecordResult{}, err
		}
		res, err := c.post(ctx, u, body, tok)
		if ClassOf(err) != ClassToken {
			return res, err
		}
		// 401: "Access Token已失效,重新获取即可". Drop exactly the token we
		// used, so that many callers failing on it cause one refresh.
		if ierr := c.invalidate(ctx, tok); ierr != nil {
			return RecordResult{}, ierr
		}
		if attempt == 2 {
			return RecordResult{}, err
		}
	}
}

// recordURL validates path and joins it to the base URL.
func (c *Dhgjcloud) recordURL(path string) (string, error) {
	p := strings.TrimPrefix(path, "/")
	if p == "" {
		return "", dhgjBadInput("empty path")
	}
	for _, r := range p {
		if r <= ' ' || r == 0x7f || r == '?' || r == '#' || r == '\\' || r == utf8.RuneError {
			return "", dhgjBadInput("path has a space, control character, ?, # or \\")
		}
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", dhgjBadInput("path has an empty, . or .. segment")
		}
	}
	// Calling the token endpoint as a "record" would invalidate everybody's token.
	if strings.EqualFold(p, "oauth/token") {
		return "", dhgjBadInput("path is the token endpoint")
	}
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + "/" + p
	u.RawPath = ""
	return u.String(), nil
}

// dhgjBadInput is the error for a record that is never sent.
func dhgjBadInput(why string) error { return badInput(VendorDhgjcloud, why) }

// post sends one business call with tok and decodes the answer; tok's
// access token is scrubbed from its errors like the configured secret.
func (c *Dhgjcloud) post(ctx context.Context, u string, body []byte, tok dhgjToken) (RecordResult, error) {
	// Exactly the sample's headers (Host and Content-Length are added by
	// net/http). The sample's form content type is for its own example path
	// ("each API specifies its own"); a record is a JSON object, so JSON.
	return exchange(ctx, c.tr, request{
		url: u,
		header: http.Header{
			"Content-Type":  {"application/json; charset=utf-8"},
			"Authorization": {tok.authorization()},
			"User-Agent":    {""}, // present but empty: net/http then sends no User-Agent
		},
		body:       body,
		credential: tok.AccessToken,
	}, decodeDhgjcloud)
}

// dhgjAnswer is the envelope of a business answer. Fields are raw so that a
// field of an unexpected type does not hide the code.
type dhgjAnswer struct {
	Code    json.RawMessage `json:"code"`
	Message json.RawMessage `json:"message"`
	Data    json.RawMessage `json:"data"`
	ID      json.RawMessage `json:"id"`
}

// decodeDhgjcloud classifies a business answer (pure, fuzzed):
// HTTP 200 + code 200 is success; HTTP 200 + another code is that business
// error; another HTTP status is classified by the status (401 token,
// 429 throttled, 5xx transient, the rest permanent).
func decodeDhgjcloud(status int, h http.Header, body []byte) (RecordResult, error) {
	if status < 200 || status > 299 {
		return RecordResult{}, dhgjStatusError(status, h, body, "http_")
	}
	var a dhgjAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return RecordResult{}, malformed(VendorDhgjcloud, status, "body is not a JSON object")
	}
	code, ok := jsonInt(a.Code)
	if !ok {
		return RecordResult{}, malformed(VendorDhgjcloud, status, "no numeric code")
	}
	if code == 200 {
		return RecordResult{ID: dhgjID(a.Data, a.ID)}, nil
	}
	e := &Error{Vendor: VendorDhgjcloud, Code: strconv.Itoa(code), Message: boundMessage(jsonText(a.Message))}
	// The document has no table of business codes; codes that mirror the
	// HTTP statuses it does describe get those statuses' meaning.
	switch {
	case code == 401:
		e.Class, e.Message = ClassToken, "token rejected"
	case code == 429:
		e.Class, e.Delay = ClassThrottled, retryAfter(h, time.Now())
	case code >= 500 && code <= 599:
		e.Class = ClassTransient
	default:
		e.Class = ClassPermanent
	}
	return RecordResult{}, e
}

// dhgjStatusError classifies a non-2xx answer; prefix is "http_" for
// business calls and "token_http_" for the token endpoint.
func dhgjStatusError(status int, h http.Header, body []byte, prefix string) error {
	e := AsError(httpStatusError(VendorDhgjcloud, status, h, ""))
	e.Code = prefix + strconv.Itoa(status)
	var a struct {
		Message json.RawMessage `json:"message"`
		Error   json.RawMessage `json:"error"`
	}
	_ = json.Unmarshal(body, &a)
	switch {
	case status == http.StatusUnauthorized:
		e.Class = ClassToken // the shared token is stale: refresh once, retry
		// Never the vendor's text here: OAuth2 servers echo the rejected
		// token ("Invalid access token: …") into it.
		e.Message = "unauthorized"
		if prefix != "http_" {
			e.Message = "client credentials rejected"
		}
	case jsonText(a.Message) != "":
		e.Message = boundMessage(jsonText(a.Message))
	case jsonText(a.Error) != "":
		e.Message = boundMessage(jsonText(a.Error))
	default:
		e.Message = http.StatusText(status)
	}
	if prefix != "http_" && status == http.StatusUnauthorized {
		e.Class = ClassPermanent // bad client credentials: retrying cannot help
	}
	return e
}

// dhgjID returns data.id, or the top-level id, as text ("" when absent).
func dhgjID(data, id json.RawMessage) string {
	var d struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(data, &d) == nil {
		if s := jsonText(d.ID); s != "" {
			return s
		}
	}
	return jsonText(id)
}

func init() { Register(dhgjcloudVendor) }

// dhgjTokenSuffix names the shared token under Settings.KeyPrefix; with the
// worker's prefix it is internal/keys.DhgjToken ("vq:{gjy}:dhgj:token").
const dhgjTokenSuffix = "dhgj:token"

var dhgjcloudVendor = Descriptor{
	Name: VendorDhgjcloud, Kind: KindRecord,
	DefaultBaseURL: DhgjcloudDefaultBaseURL, DefaultRate: 10,
	TableForm: "an API path",
	Credentials: []Credential{
		{Key: "client_id", Required: true},
		{Key: "client_secret", Required: true, Secret: true},
		{Key: "scope"},
	},
	ValidateTable: validateDhgjcloudTable,
	New: func(s Settings) (Client, error) {
		return records(NewDhgjcloud(DhgjcloudConfig{
			BaseURL: s.BaseURL, ClientID: s.Credentials["client_id"], ClientSecret: s.Credentials["client_secret"],
			Scope: s.Credentials["scope"], Redis: s.Redis, TokenKey: s.KeyPrefix + dhgjTokenSuffix,
			HTTPClient: s.HTTPClient, Timeout: s.Timeout,
		}))
	},
}

var dhgjPathRe = regexp.MustCompile(`^/?[A-Za-z0-9._~!$&'()*+,;=:@%/-]+$`)

// validateDhgjcloudTable is the producer-side table check (the API path).
func validateDhgjcloudTable(table string) error {
	if !dhgjPathRe.MatchString(table) || strings.Contains(table, "..") {
		return fmt.Errorf("wants an API path like /api/records, got %q", table)
	}
	return nil
}
