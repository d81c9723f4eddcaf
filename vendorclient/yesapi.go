package vendorclient

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// yesapi (小白开放平台/果创云) App.Table.Create, docs/vendors.md (yesapi).

const (
	yesapiDefaultBase = "http://api.okayapi.com/"
	yesapiService     = "App.Table.Create"
)

// CodeUntrustedAnswer is the Code of an answer whose integrity check (yesapi
// _auth) fails; the handler dead-letters it under this code.
const CodeUntrustedAnswer = "untrusted_answer"

// YesapiConfig configures one yesapi app.
type YesapiConfig struct {
	BaseURL   string // default "http://api.okayapi.com/"
	AppKey    string // required
	AppSecret string // required; signs requests and verifies _auth, never sent, never logged
	// HTTPClient nil = NewHTTPClient(Timeout); redirects are refused either way.
	HTTPClient *http.Client
	Timeout    time.Duration // bounds each call; 0 = DefaultTimeout
}

// Yesapi creates rows through yesapi's App.Table.Create.
type Yesapi struct {
	url    string // base with its trailing slash: params go in the POST body, never the URL
	appKey string
	secret string
	tr     *transport
}

var _ RecordCreator = (*Yesapi)(nil)

// NewYesapi checks cfg and returns a client. The error names the missing or bad field.
func NewYesapi(cfg YesapiConfig) (*Yesapi, error) {
	switch {
	case cfg.AppKey == "":
		return nil, configError(VendorYesapi, "AppKey is required")
	case cfg.AppSecret == "":
		return nil, configError(VendorYesapi, "AppSecret is required")
	}
	base, err := baseURL(VendorYesapi, cfg.BaseURL, yesapiDefaultBase)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(base, "/") {
		base += "/" // the document's endpoint is {你的接口域名}/
	}
	return &Yesapi{
		url:    base,
		appKey: cfg.AppKey,
		secret: cfg.AppSecret,
		// The app key is no secret to yesapi (its JS sample ships it to
		// browsers), but it names the account: scrubbed like the secret.
		tr: newTransport(VendorYesapi, cfg.HTTPClient, cfg.Timeout, cfg.AppSecret, cfg.AppKey),
	}, nil
}

// CreateRecord creates one row in the table modelName; data must be a JSON
// object. The form is POSTed (a long GET URL fails with HTTP 414).
func (c *Yesapi) CreateRecord(ctx context.Context, modelName string, data json.RawMessage) (RecordResult, error) {
	if err := checkName(modelName); err != nil {
		return RecordResult{}, badInput(VendorYesapi, "model_name "+err.Error())
	}
	obj, err := compactObject(VendorYesapi, data)
	if err != nil {
		return RecordResult{}, err
	}
	params := map[string]string{
		"s":          yesapiService,
		"model_name": modelName,
		"data":       string(obj),
		"app_key":    c.appKey,
	}
	params["sign"] = YesapiSign(params, c.secret)
	form := url.Values{}
	for k, v := range params {
		form.Set(k, v)
	}
	return exchange(ctx, c.tr, request{
		url:    c.url,
		header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
		body:   []byte(form.Encode()),
	}, func(status int, h http.Header, body []byte) (RecordResult, error) {
		return decodeYesapi(status, h, body, c.secret)
	})
}

// YesapiSign is the request signature of the document's PHP/Python/JS
// samples: the values of every parameter except sign, ordered by parameter
// name (byte order, as Python's sorted and JS's sort do for ASCII names),
// concatenated, followed by the app secret; MD5, upper-case hex.
func YesapiSign(params map[string]string, appSecret string) string {
	names := make([]string, 0, len(params))
	for k := range params {
		if k != "sign" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	h := md5.New()
	for _, k := range names {
		h.Write([]byte(params[k]))
	}
	h.Write([]byte(appSecret))
	return strings.ToUpper(hex.EncodeToString(h.Sum(nil)))
}

// YesapiAuth is the answer's reverse signature _auth: lower-case hex
// md5(raw JSON text of data + _t + app secret). rawData must be the bytes of
// the data member exactly as received (re-encoding changes them).
func YesapiAuth(rawData []byte, t string, appSecret string) string {
	h := md5.New()
	h.Write(rawData)
	h.Write([]byte(t))
	h.Write([]byte(appSecret))
	return hex.EncodeToString(h.Sum(nil))
}

// yesRetMessage is the document's description of every ret code; its keys
// are the documented codes.
var yesRetMessage = map[int]string{
	400: "非法请求，参数错误",
	401: "用户未登录，或登录凭证已过期",
	402: "IP已被黑名单拦截",
	403: "IP未命中白名单",
	404: "接口服务不存在",
	406: "非法app_key",
	407: "当前应用已过期",
	408: "当前应用存在异常，已被封号",
	409: "签名错误",
	410: "权限不足，非系统管理员",
	411: "权限不足，应用管理员未登录",
	412: "权限不足，非应用管理员",
	413: "本月接口流量超出，已被临时冻结",
	414: "并发过高",
	415: "接口已被开发者关闭",
	416: "权限不足，个人免费版套餐无法使用专业版接口",
	417: "子应用异常",
	500: "小白接口异常",
}

// yesRetClass maps a ret code to its class (docs/vendors.md).
func yesRetClass(ret int) Class {
	switch {
	case ret == 413:
		return ClassQuota
	case ret == 414:
		return ClassThrottled
	case ret >= 500 && ret <= 599:
		return ClassTransient
	default: // every other documented 4xx, and anything undocumented: a retry will not help
		return ClassPermanent
	}
}

// yesEnvelope is the outer answer. Every member stays raw: data must be
// hashed as received, and the vendor's samples disagree on types (id is a
// number in one, a string in another).
type yesEnvelope struct {
	Ret  json.RawMessage `json:"ret"`
	Data json.RawMessage `json:"data"`
	Msg  json.RawMessage `json:"msg"`
	T    json.RawMessage `json:"_t"`
	Auth json.RawMessage `json:"_auth"`
}

// decodeYesapi classifies one answer, verifying _auth with appSecret when
// the answer carries one. It is pure (no I/O) so it can be fuzzed.
func decodeYesapi(status int, h http.Header, body []byte, appSecret string) (RecordResult, error) {
	var env yesEnvelope
	perr := json.Unmarshal(body, &env)
	ret, hasRet := jsonInt(env.Ret)
	if status != http.StatusOK {
		// The vendor answers in its envelope with HTTP 200; a proxy or web
		// server in front answers bare statuses (e.g. HTTP 414 URI Too
		// Long). Trust the envelope only when it says what went wrong; a
		// 2xx other than 200 without that is malformed (httpStatusError).
		if perr != nil || !hasRet || ret == 200 {
			return RecordResult{}, httpStatusError(VendorYesapi, status, h, "")
		}
	}
	if perr != nil {
		return RecordResult{}, malformed(VendorYesapi, status, "answer is not a JSON object")
	}
	if !hasRet {
		return RecordResult{}, malformed(VendorYesapi, status, "answer has no ret")
	}
	// _auth is checked on ret 200 answers, the ones whose data we act on (a
	// success, or err_code). Error rets are reported as they are: with a
	// wrong secret our sign gets ret 409 and our _auth check must fail too,
	// and "409 签名错误" is what the operator needs to see, not untrusted_answer.
	// (Nor does _auth cover ret itself: it signs data and _t only.)
	if auth, t := jsonText(env.Auth), jsonText(env.T); ret == 200 && auth != "" && t != "" {
		if !strings.EqualFold(auth, YesapiAuth(env.Data, t, appSecret)) {
			return RecordResult{}, untrusted(body)
		}
	}
	if ret != 200 {
		msg := boundMessage(jsonText(env.Msg))
		if msg == "" {
			msg = yesRetMessage[ret]
		}
		e := &Error{Vendor: VendorYesapi, Class: yesRetClass(ret), Code: strconv.Itoa(ret), Message: msg}
		if e.Class == ClassThrottled {
			e.Delay = retryAfter(h, time.Now())
		}
		return RecordResult{}, e
	}
	var d struct {
		ErrCode json.RawMessage `json:"err_code"`
		ErrMsg  json.RawMessage `json:"err_msg"`
		ID      json.RawMessage `json:"id"`
	}
	if json.Unmarshal(env.Data, &d) != nil {
		return RecordResult{}, malformed(VendorYesapi, status, "data is not an object")
	}
	errCode, ok := jsonInt(d.ErrCode)
	if !ok {
		return RecordResult{}, malformed(VendorYesapi, status, "data has no err_code")
	}
	if errCode != 0 {
		// 1: fields do not fit the table; 2: blocked by an app rule; both
		// permanent, and so is any undocumented code.
		code := "err_code_" + strconv.Itoa(errCode)
		return RecordResult{}, &Error{Vendor: VendorYesapi, Class: ClassPermanent, Code: code, Message: boundMessage(jsonText(d.ErrMsg))}
	}
	// The documented success answer carries the new row's id: without it the
	// answer does not say a row was created (a 2xx that does not say success
	// is malformed, as for every vendor).
	id := jsonText(d.ID)
	if id == "" {
		return RecordResult{}, malformed(VendorYesapi, status, "err_code 0 without the new row's id")
	}
	return RecordResult{ID: id}, nil
}

// untrusted is the error for an answer whose _auth does not verify. Nothing
// in it can be believed, success or failure: the record may exist, so a
// retry could create it twice (docs/vendors.md, yesapi). It is permanent:
// the task is dead-lettered at once with the answer itself in the entry
// (bounded; the transport scrubs every credential from it), and replaying
// it stays the operator's choice.
func untrusted(body []byte) error {
	return &Error{Vendor: VendorYesapi, Class: ClassPermanent, Code: CodeUntrustedAnswer,
		Message: boundMessage("_auth does not match the answer: " + string(body)), Err: ErrUntrustedAnswer}
}

func init() { Register(yesapiVendor) }

var yesapiVendor = Descriptor{
	Name: VendorYesapi, Kind: KindRecord,
	DefaultBaseURL: yesapiDefaultBase, DefaultRate: 10,
	TableForm: "a model_name",
	Credentials: []Credential{
		// The app key names the account: the client scrubs it like the secret.
		{Key: "app_key", Required: true, Secret: true},
		{Key: "app_secret", Required: true, Secret: true},
	},
	ValidateTable: validateYesapiTable,
	New: func(s Settings) (Client, error) {
		return records(NewYesapi(YesapiConfig{
			BaseURL: s.BaseURL, AppKey: s.Credentials["app_key"], AppSecret: s.Credentials["app_secret"],
			HTTPClient: s.HTTPClient, Timeout: s.Timeout,
		}))
	},
}

var yesapiModelRe = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// validateYesapiTable is the producer-side table check (the model_name).
func validateYesapiTable(table string) error {
	if !yesapiModelRe.MatchString(table) {
		return fmt.Errorf("wants a model_name of letters, digits and _, got %q", table)
	}
	return nil
}
