package vendorclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// baibaoyun (启辰云/百宝云) forms & data API, docs/vendors.md (baibaoyun).

const baibaoyunDefaultBase = "https://webapi.baibaoyun.com"

// BaibaoyunConfig configures one baibaoyun account.
type BaibaoyunConfig struct {
	BaseURL    string        // default "https://webapi.baibaoyun.com"
	APIKey     string        // required; sent only in the Authorization header, never logged
	HTTPClient *http.Client  // nil = NewHTTPClient(Timeout); redirects are refused either way
	Timeout    time.Duration // bounds each call; 0 = DefaultTimeout
}

// Baibaoyun creates records through baibaoyun's data_create API.
type Baibaoyun struct {
	base   string // without trailing slash
	apiKey string
	tr     *transport
}

var _ RecordCreator = (*Baibaoyun)(nil)

// NewBaibaoyun checks cfg and returns a client. The error names the missing
// or bad field.
func NewBaibaoyun(cfg BaibaoyunConfig) (*Baibaoyun, error) {
	if cfg.APIKey == "" {
		return nil, configError(VendorBaibaoyun, "APIKey is required")
	}
	base, err := baseURL(VendorBaibaoyun, cfg.BaseURL, baibaoyunDefaultBase)
	if err != nil {
		return nil, err
	}
	return &Baibaoyun{
		base:   strings.TrimRight(base, "/"),
		apiKey: cfg.APIKey,
		tr:     newTransport(VendorBaibaoyun, cfg.HTTPClient, cfg.Timeout, cfg.APIKey),
	}, nil
}

// CreateRecord creates one record in the form table = "app_id/entry_id".
// data must be a JSON object; it is sent as {"data": data}.
// A 4010 answer (record inserted, the customer's backend code failed) is a
// success with RecordResult.Warning set: the record exists, never retry it.
func (c *Baibaoyun) CreateRecord(ctx context.Context, table string, data json.RawMessage) (RecordResult, error) {
	appID, entryID, err := bbySplitTable(table)
	if err != nil {
		return RecordResult{}, err
	}
	obj, err := compactObject(VendorBaibaoyun, data)
	if err != nil {
		return RecordResult{}, err
	}
	body, err := json.Marshal(struct {
		Data json.RawMessage `json:"data"`
	}{obj})
	if err != nil { // cannot happen: obj is valid JSON
		return RecordResult{}, badInput(VendorBaibaoyun, "data: "+err.Error())
	}
	return exchange(ctx, c.tr, request{
		url: c.base + "/api/v1/app/" + url.PathEscape(appID) + "/entry/" + url.PathEscape(entryID) + "/data_create",
		header: http.Header{
			"Content-Type":  {"application/json; charset=utf-8"},
			"Authorization": {"Bearer " + c.apiKey},
		},
		body: body,
	}, decodeBaibaoyun)
}

// bbySplitTable checks the task's table "app_id/entry_id".
func bbySplitTable(table string) (appID, entryID string, err error) {
	parts := strings.Split(table, "/")
	if len(parts) != 2 {
		return "", "", badInput(VendorBaibaoyun, "table must be APP_ID/ENTRY_ID")
	}
	for i, p := range parts {
		name := [...]string{"app_id", "entry_id"}[i]
		if err := checkName(p); err != nil {
			return "", "", badInput(VendorBaibaoyun, "table: "+name+" "+err.Error())
		}
		if p == "." || p == ".." {
			return "", "", badInput(VendorBaibaoyun, "table: "+name+" must not be a dot segment")
		}
	}
	return parts[0], parts[1], nil
}

// bbyClass maps every documented error code (docs/vendors.md) to its class.
// 4010 is not here: it is a success with a warning.
var bbyClass = map[int]Class{
	4001: ClassPermanent, // 接口参数不正确
	4002: ClassPermanent, // 表单类型不正确
	4003: ClassPermanent, // 当前套餐不包含此功能
	4004: ClassThrottled, // 超出请求频率限制
	4005: ClassQuota,     // 套餐用量超出限制
	4006: ClassPermanent, // 插入数据失败,后端代码返回错误 (nothing inserted; the customer's code refuses it)
	4007: ClassPermanent, // 图片大小超过套餐内允许的大小
	4008: ClassTransient, // 图片上传不成功
	4009: ClassPermanent, // 聚合表校验失败
	4011: ClassPermanent, // 数据不存在
	4012: ClassPermanent, // 部门不存在
	4013: ClassPermanent, // 用户不存在
	9999: ClassTransient, // 系统异常，请联系管理员
}

// bbyWarningCode: 数据插入成功,后端代码返回错误 — the record exists.
const bbyWarningCode = 4010

// bbySuccessCode reports whether a body code means success. The document
// shows no success body; 0 is what the simulator (internal/vendorsim) and
// most such APIs send, 200 the HTTP-like convention dhgjcloud and yesapi use.
func bbySuccessCode(code int) bool { return code == 0 || code == 200 }

// bbyAnswer is what could be read from an answer body.
type bbyAnswer struct {
	object  bool // the body is a JSON object (possibly after repair)
	code    int
	hasCode bool
	message string
	id      string
	record  bool // the body carries the created record: a non-empty data object or an id
}

var (
	// The document's own example has a trailing comma ({"code": 4004, "message": "…",}),
	// which encoding/json rejects; removing commas before } or ] repairs it.
	bbyTrailingComma = regexp.MustCompile(`,\s*([}\]])`)
	// Last resort for bodies that still do not parse.
	bbyCodeRe    = regexp.MustCompile(`"code"\s*:\s*"?(-?[0-9]{1,9})\b`)
	bbyMessageRe = regexp.MustCompile(`"message"\s*:\s*("(?:[^"\\]|\\.)*")`)
)

// parseBbyBody reads code, message and record from body as leniently as
// it can; ok=false when it is not a JSON object and no code can be found.
func parseBbyBody(body []byte) (a bbyAnswer, ok bool) {
	var m map[string]json.RawMessage
	err := json.Unmarshal(body, &m)
	if err != nil {
		err = json.Unmarshal(bbyTrailingComma.ReplaceAll(body, []byte("$1")), &m)
	}
	if err == nil && m != nil {
		a.object = true
		a.code, a.hasCode = jsonInt(m["code"])
		a.message = jsonText(m["message"])
		if a.message == "" {
			a.message = jsonText(m["msg"])
		}
		a.id, a.record = bbyRecord(m)
		return a, true
	}
	sm := bbyCodeRe.FindSubmatch(body)
	if sm == nil {
		return a, false
	}
	a.code, a.hasCode = jsonInt(sm[1])
	if mm := bbyMessageRe.FindSubmatch(body); mm != nil {
		a.message = jsonText(mm[1])
	}
	return a, a.hasCode
}

// bbyIDKeys are where such APIs put a new record's id (in data, or at the top).
var bbyIDKeys = []string{"_id", "id"}

// bbyRecord finds the new record: its id (data._id, data.id, _id, id), and
// whether the body carries the record at all: an id, or a data object with
// a field other than an (empty) id.
func bbyRecord(m map[string]json.RawMessage) (id string, found bool) {
	var data map[string]json.RawMessage
	_ = json.Unmarshal(m["data"], &data) // not an object: no record in data
	for _, where := range []map[string]json.RawMessage{data, m} {
		for _, k := range bbyIDKeys {
			if id := jsonText(where[k]); id != "" {
				return id, true
			}
		}
	}
	for k := range data {
		if !slices.Contains(bbyIDKeys, k) {
			return "", true
		}
	}
	return "", false
}

// decodeBaibaoyun classifies one answer. It is pure (no I/O) so it can be fuzzed.
//
// A 2xx is a success only when its body says so. The document says only
// "接口正确统一返回HTTP状态码为 2xx" and shows no success body, so a bare 2xx
// from anything in between (a proxy, a captive portal, a half-deployed
// vendor) used to count as "record created": the task was marked done and
// the record was lost. The rule now: a 2xx is a success only if its body is
// a JSON object whose code, when present, is a success code (bbySuccessCode)
// and which carries the created record (bbyRecord). A documented code keeps
// its meaning (4010 a success with a warning, the others their class).
// Anything else — empty, {}, null, [], not JSON, an undocumented code such as
// 500 — is malformed (transient): a retry can at worst repeat a record an
// operator can see, where a false success loses it silently.
func decodeBaibaoyun(status int, h http.Header, body []byte) (RecordResult, error) {
	switch {
	case status >= 200 && status <= 299:
		if len(bytes.TrimSpace(body)) == 0 {
			return RecordResult{}, malformed(VendorBaibaoyun, status, "empty answer")
		}
		a, ok := parseBbyBody(body)
		if !ok {
			return RecordResult{}, malformed(VendorBaibaoyun, status, "answer is not a JSON object")
		}
		// Errors come with HTTP 400, but a documented error code in a 2xx
		// body still means what it says.
		if _, known := bbyClass[a.code]; a.hasCode && (known || a.code == bbyWarningCode) {
			return bbyCodeResult(a, h)
		}
		switch {
		case !a.object:
			return RecordResult{}, malformed(VendorBaibaoyun, status, "answer is not a JSON object")
		case a.hasCode && !bbySuccessCode(a.code):
			return RecordResult{}, malformed(VendorBaibaoyun, status, "undocumented code "+strconv.Itoa(a.code))
		case !a.record:
			return RecordResult{}, malformed(VendorBaibaoyun, status, "answer carries no created record")
		}
		return RecordResult{ID: a.id}, nil
	case status == http.StatusBadRequest:
		a, ok := parseBbyBody(body)
		if !ok || !a.hasCode {
			return RecordResult{}, malformed(VendorBaibaoyun, status, "error answer has no code")
		}
		return bbyCodeResult(a, h)
	default:
		// 401/403 (bad key), 429 (Retry-After), 5xx and the rest: the HTTP
		// status decides; the body's message, if any, is kept for operators.
		a, _ := parseBbyBody(body)
		return RecordResult{}, httpStatusError(VendorBaibaoyun, status, h, boundMessage(a.message))
	}
}

// bbyCodeResult classifies a body code.
func bbyCodeResult(a bbyAnswer, h http.Header) (RecordResult, error) {
	msg := boundMessage(a.message)
	if a.code == bbyWarningCode {
		if msg == "" {
			msg = "数据插入成功,后端代码返回错误"
		}
		return RecordResult{ID: a.id, Warning: "4010: " + msg}, nil
	}
	class, known := bbyClass[a.code]
	if !known {
		class = ClassPermanent // an undocumented code: do not guess that a retry helps
	}
	e := &Error{Vendor: VendorBaibaoyun, Class: class, Code: strconv.Itoa(a.code), Message: msg}
	if class == ClassThrottled {
		e.Delay = retryAfter(h, time.Now())
	}
	return RecordResult{}, e
}

func init() { Register(baibaoyunVendor) }

var baibaoyunVendor = Descriptor{
	Name: VendorBaibaoyun, Kind: KindRecord,
	DefaultBaseURL: baibaoyunDefaultBase, DefaultRate: 5,
	TableForm:     "APP_ID/ENTRY_ID",
	Credentials:   []Credential{{Key: "api_key", Required: true, Secret: true}},
	ValidateTable: validateBaibaoyunTable,
	New: func(s Settings) (Client, error) {
		return records(NewBaibaoyun(BaibaoyunConfig{
			BaseURL: s.BaseURL, APIKey: s.Credentials["api_key"], HTTPClient: s.HTTPClient, Timeout: s.Timeout,
		}))
	},
}

// validateBaibaoyunTable is the producer-side table check: stricter than
// what the client refuses at call time, so a task that would be refused is
// never enqueued.
func validateBaibaoyunTable(table string) error {
	app, entry, ok := strings.Cut(table, "/")
	if !ok || app == "" || entry == "" || strings.Contains(entry, "/") || strings.ContainsAny(table, " ?#") {
		return fmt.Errorf("wants APP_ID/ENTRY_ID, got %q", table)
	}
	return nil
}
