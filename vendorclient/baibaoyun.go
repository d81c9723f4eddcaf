package vendorclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// baibaoyun (启辰云/百宝云) forms & data API, SPEC §2.1 and
// vendor-docs/000_c6e867ae98d99649.txt.

const (
	baibaoyunDefaultBase = "https://webapi.baibaoyun.com"
	// tblMaxAnswer bounds how much of an answer is read (both table vendors).
	tblMaxAnswer = 1 << 20
	// tblMaxMessage bounds a vendor message kept in *Error.Message.
	tblMaxMessage = 512
)

// BaibaoyunConfig configures one baibaoyun account.
type BaibaoyunConfig struct {
	BaseURL    string        // default "https://webapi.baibaoyun.com"
	APIKey     string        // required; sent only in the Authorization header, never logged
	HTTPClient *http.Client  // nil = NewHTTPClient(Timeout)
	Timeout    time.Duration // bounds each call; 0 = DefaultTimeout
}

// Baibaoyun creates records through baibaoyun's data_create API.
type Baibaoyun struct {
	base    string // without trailing slash
	apiKey  string
	hc      *http.Client
	timeout time.Duration
}

var _ RecordCreator = (*Baibaoyun)(nil)

// NewBaibaoyun checks cfg and returns a client. The error names the missing
// or bad field.
func NewBaibaoyun(cfg BaibaoyunConfig) (*Baibaoyun, error) {
	if cfg.APIKey == "" {
		return nil, errors.New("baibaoyun: APIKey is required")
	}
	base := cfg.BaseURL
	if base == "" {
		base = baibaoyunDefaultBase
	}
	if err := tblCheckBase(base); err != nil {
		return nil, fmt.Errorf("baibaoyun: BaseURL: %w", err)
	}
	c := &Baibaoyun{base: strings.TrimRight(base, "/"), apiKey: cfg.APIKey, hc: cfg.HTTPClient, timeout: cfg.Timeout}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.hc == nil {
		c.hc = NewHTTPClient(c.timeout)
	}
	return c, nil
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
	obj, err := tblObject(VendorBaibaoyun, data)
	if err != nil {
		return RecordResult{}, err
	}
	body, err := json.Marshal(struct {
		Data json.RawMessage `json:"data"`
	}{obj})
	if err != nil { // cannot happen: obj is valid JSON
		return RecordResult{}, tblBadInput(VendorBaibaoyun, "data: "+err.Error())
	}
	u := c.base + "/api/v1/app/" + url.PathEscape(appID) + "/entry/" + url.PathEscape(entryID) + "/data_create"
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Authorization", "Bearer "+c.apiKey)
	status, rh, answer, err := tblExchange(ctx, c.hc, c.timeout, VendorBaibaoyun, u, h, body)
	if err != nil {
		return RecordResult{}, err
	}
	res, err := decodeBaibaoyun(status, rh, answer)
	return res, tblScrub(err, c.apiKey)
}

// bbySplitTable checks the task's table "app_id/entry_id".
func bbySplitTable(table string) (appID, entryID string, err error) {
	parts := strings.Split(table, "/")
	if len(parts) != 2 {
		return "", "", tblBadInput(VendorBaibaoyun, "table must be APP_ID/ENTRY_ID")
	}
	for i, p := range parts {
		name := [...]string{"app_id", "entry_id"}[i]
		if err := tblCheckName(p); err != nil {
			return "", "", tblBadInput(VendorBaibaoyun, "table: "+name+" "+err.Error())
		}
		if p == "." || p == ".." {
			return "", "", tblBadInput(VendorBaibaoyun, "table: "+name+" must not be a dot segment")
		}
	}
	return parts[0], parts[1], nil
}

// bbyClass maps every documented error code (SPEC §2.1, §2.5) to its class.
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

// bbyAnswer is what could be read from an answer body.
type bbyAnswer struct {
	code    int
	hasCode bool
	message string
	id      string
}

var (
	// The document's own example has a trailing comma ({"code": 4004, "message": "…",}),
	// which encoding/json rejects; removing commas before } or ] repairs it.
	bbyTrailingComma = regexp.MustCompile(`,\s*([}\]])`)
	// Last resort for bodies that still do not parse.
	bbyCodeRe    = regexp.MustCompile(`"code"\s*:\s*"?(-?[0-9]{1,9})\b`)
	bbyMessageRe = regexp.MustCompile(`"message"\s*:\s*("(?:[^"\\]|\\.)*")`)
)

// parseBbyBody reads code, message and record id from body as leniently as
// it can; ok=false when it is not a JSON object and no code can be found.
func parseBbyBody(body []byte) (a bbyAnswer, ok bool) {
	var m map[string]json.RawMessage
	err := json.Unmarshal(body, &m)
	if err != nil {
		err = json.Unmarshal(bbyTrailingComma.ReplaceAll(body, []byte("$1")), &m)
	}
	if err == nil && m != nil {
		a.code, a.hasCode = tblInt(m["code"])
		a.message = tblText(m["message"])
		if a.message == "" {
			a.message = tblText(m["msg"])
		}
		a.id = bbyID(m)
		return a, true
	}
	sm := bbyCodeRe.FindSubmatch(body)
	if sm == nil {
		return a, false
	}
	a.code, a.hasCode = tblInt(sm[1])
	if mm := bbyMessageRe.FindSubmatch(body); mm != nil {
		a.message = tblText(mm[1])
	}
	return a, a.hasCode
}

// bbyID finds the new record's id; the document shows no success body, so
// look where such APIs put it: data._id, data.id, _id, id.
func bbyID(m map[string]json.RawMessage) string {
	var data map[string]json.RawMessage
	if json.Unmarshal(m["data"], &data) == nil {
		for _, k := range []string{"_id", "id"} {
			if id := tblText(data[k]); id != "" {
				return id
			}
		}
	}
	for _, k := range []string{"_id", "id"} {
		if id := tblText(m[k]); id != "" {
			return id
		}
	}
	return ""
}

// decodeBaibaoyun classifies one answer. It is pure (no I/O) so it can be fuzzed.
func decodeBaibaoyun(status int, h http.Header, body []byte) (RecordResult, error) {
	switch {
	case status >= 200 && status <= 299:
		if len(bytes.TrimSpace(body)) == 0 {
			return RecordResult{}, nil
		}
		a, ok := parseBbyBody(body)
		if !ok {
			return RecordResult{}, malformed(VendorBaibaoyun, status, "answer is not JSON")
		}
		// Errors come with HTTP 400, but a documented error code in a 2xx
		// body still means what it says.
		if _, known := bbyClass[a.code]; a.hasCode && (known || a.code == bbyWarningCode) {
			return bbyCodeResult(a, h)
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
		return RecordResult{}, httpStatusError(VendorBaibaoyun, &http.Response{StatusCode: status, Header: h}, tblMessage(a.message))
	}
}

// bbyCodeResult classifies a body code.
func bbyCodeResult(a bbyAnswer, h http.Header) (RecordResult, error) {
	msg := tblMessage(a.message)
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

// ---- helpers shared by the two table vendors (baibaoyun, yesapi) ----

// tblBadInput is the error for a caller's input that is never sent.
func tblBadInput(vendor, msg string) error {
	return &Error{Vendor: vendor, Class: ClassPermanent, Code: "bad_input", Message: msg, Err: ErrBadRequest}
}

// tblCheckBase checks a configured base URL.
func tblCheckBase(base string) error {
	u, err := url.Parse(base)
	switch {
	case err != nil:
		return errors.New("not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("scheme must be http or https")
	case u.Host == "":
		return errors.New("no host")
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return errors.New("must not carry a query, fragment or user info")
	}
	return nil
}

// tblCheckName checks one table-name component (app_id, entry_id, model_name).
func tblCheckName(s string) error {
	switch {
	case s == "":
		return errors.New("is empty")
	case len(s) > 256:
		return errors.New("is longer than 256 bytes")
	case !utf8.ValidString(s):
		return errors.New("is not UTF-8")
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return errors.New("contains a control character")
	}
	return nil
}

// tblObject checks that data is one JSON object and returns it compacted.
func tblObject(vendor string, data json.RawMessage) ([]byte, error) {
	t := bytes.TrimSpace(data)
	if len(t) == 0 || t[0] != '{' || !json.Valid(t) {
		return nil, tblBadInput(vendor, "data must be a JSON object")
	}
	var b bytes.Buffer
	if err := json.Compact(&b, t); err != nil {
		return nil, tblBadInput(vendor, "data must be a JSON object")
	}
	return b.Bytes(), nil
}

// tblInt reads an integer sent as a JSON number or a numeric string.
func tblInt(raw []byte) (int, bool) {
	s := strings.TrimSpace(tblText(raw))
	if s == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(s); err == nil {
		return n, true
	}
	// 4004.0 and 4.004e3 are still 4004.
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f > 1e9 || f < -1e9 || f != math.Trunc(f) { // NaN fails the last test
		return 0, false
	}
	return int(f), true
}

// tblText returns a JSON string's value, or the raw text of any other
// scalar (a number stays exactly as sent); "" for null, objects and arrays.
func tblText(raw []byte) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return ""
	}
	switch t[0] {
	case '"':
		var s string
		if json.Unmarshal(t, &s) != nil {
			return ""
		}
		return s
	case '{', '[', 'n':
		return ""
	}
	if !json.Valid(t) {
		return ""
	}
	return string(t)
}

// tblMessage makes a vendor message fit for logs: valid UTF-8, bounded.
func tblMessage(s string) string {
	s = strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) <= tblMaxMessage {
		return s
	}
	cut := tblMaxMessage
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// tblScrub removes credentials from an error's message, in case a vendor
// (or a proxy) echoes the request back.
func tblScrub(err error, secrets ...string) error {
	e := AsError(err)
	if e == nil {
		return err
	}
	for _, s := range secrets {
		if s != "" {
			e.Message = strings.ReplaceAll(e.Message, s, "[redacted]")
		}
	}
	return err
}

// tblExchange POSTs body to u and reads the answer (bounded). Failures to
// get a whole answer are transient (transportError); the caller decodes.
func tblExchange(ctx context.Context, hc *http.Client, timeout time.Duration, vendor, u string, h http.Header, body []byte) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, tblBadInput(vendor, "cannot build the request: "+err.Error())
	}
	req.Header = h
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, nil, transportError(vendor, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, tblMaxAnswer+1))
	if err != nil {
		return 0, nil, nil, transportError(vendor, err)
	}
	if len(answer) > tblMaxAnswer {
		return 0, nil, nil, malformed(vendor, resp.StatusCode, "answer larger than 1 MiB")
	}
	return resp.StatusCode, resp.Header, answer, nil
}
