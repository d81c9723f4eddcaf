package vendorclient

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// caihcom (东信) SMS gateway, docs/vendors.md (caihcom).

const (
	caihcomDefaultBase = "http://api.caihcom.com"
	caihcomSubmitPath  = "/rest/sms/v1/smsService/singleSubmit"
	// CaihcomTimeLayout is the wire format of header.startTime (China Standard Time).
	CaihcomTimeLayout = "2006-01-02 15:04:05"
	// caihcomBusyDelay is the document's advice for 8201–8203: wait 10 minutes.
	caihcomBusyDelay = 10 * time.Minute
)

// caihcomCST is China Standard Time. A fixed zone, so the host's TZ and its
// tzdata never change what startTime says.
var caihcomCST = time.FixedZone("CST", 8*3600)

// CaihcomConfig configures one caihcom account.
type CaihcomConfig struct {
	BaseURL    string           // default "http://api.caihcom.com"
	AppKey     string           // required (header.appkey, the account Sid)
	AppID      string           // required (header.appId)
	AuthToken  string           // required (signing secret); never sent, never logged
	HTTPClient *http.Client     // nil = NewHTTPClient(Timeout); redirects are refused either way
	Timeout    time.Duration    // bounds each attempt; 0 = DefaultTimeout
	Now        func() time.Time // nil = time.Now; startTime is stamped from it when each request is SENT
}

// SMS is one message to one phone.
type SMS struct {
	MsgID    string // stable across retries of one (task, phone): use MsgID()
	Phone    string // ONE phone per request
	Content  string
	Sign     string // e.g. "【XXXX】"
	Subcode  string
	Sendtime string // "" = now; else yyyyMMddHHmm as the doc's example
}

// Caihcom sends SMS through caihcom's singleSubmit API.
type Caihcom struct {
	cfg CaihcomConfig
	url string
	tr  *transport
	now func() time.Time
}

// NewCaihcom checks cfg and returns a client. The error names the missing or bad field.
func NewCaihcom(cfg CaihcomConfig) (*Caihcom, error) {
	switch {
	case cfg.AppKey == "":
		return nil, configError(VendorCaihcom, "AppKey is required")
	case cfg.AppID == "":
		return nil, configError(VendorCaihcom, "AppID is required")
	case cfg.AuthToken == "":
		return nil, configError(VendorCaihcom, "AuthToken is required")
	}
	base, err := baseURL(VendorCaihcom, cfg.BaseURL, caihcomDefaultBase)
	if err != nil {
		return nil, err
	}
	c := &Caihcom{
		cfg: cfg,
		url: strings.TrimRight(base, "/") + caihcomSubmitPath,
		tr:  newTransport(VendorCaihcom, cfg.HTTPClient, cfg.Timeout, cfg.AuthToken),
		now: cfg.Now,
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// MsgID returns the msgid of one (task, phone): 32 lower-case hex characters
// like the document's example, the same on every retry, so that the vendor
// (and the simulator) can tell a re-send from a new message. The task ID is
// length-prefixed so that no two (task, phone) pairs share an input.
func MsgID(taskID, phone string) string {
	sum := md5.Sum([]byte(strconv.Itoa(len(taskID)) + ":" + taskID + ":" + phone))
	return hex.EncodeToString(sum[:])
}

// CaihcomSign is the request signature: upper-case hex MD5 of
// authToken + body + authToken, over the exact bytes sent.
func CaihcomSign(authToken string, body []byte) string {
	h := md5.New()
	h.Write([]byte(authToken))
	h.Write(body)
	h.Write([]byte(authToken))
	return strings.ToUpper(hex.EncodeToString(h.Sum(nil)))
}

// The request, as structs so that field order is the document's.
type caihcomRequest struct {
	Header caihcomReqHeader `json:"header"`
	Body   caihcomReqBody   `json:"body"`
}

type caihcomReqHeader struct {
	AppKey    string `json:"appkey"`
	StartTime string `json:"startTime"`
	AppID     string `json:"appId"`
}

type caihcomReqBody struct {
	MsgID    string `json:"msgid"`
	Phones   string `json:"phones"`
	Content  string `json:"content"`
	Sign     string `json:"sign"`
	Subcode  string `json:"subcode"`
	Sendtime string `json:"sendtime"`
}

// EncodeCaihcomRequest returns the exact compact body bytes for m, with
// startTime in China Standard Time. HTML characters stay as they are (the
// vendor signs what it receives, and the document's example is unescaped).
func EncodeCaihcomRequest(appKey, appID string, startTime time.Time, m SMS) ([]byte, error) {
	req := caihcomRequest{
		Header: caihcomReqHeader{AppKey: appKey, StartTime: startTime.In(caihcomCST).Format(CaihcomTimeLayout), AppID: appID},
		Body:   caihcomReqBody{MsgID: m.MsgID, Phones: m.Phone, Content: m.Content, Sign: m.Sign, Subcode: m.Subcode, Sendtime: m.Sendtime},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(req); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Send submits m. nil means caihcom accepted the message for that phone.
// A request time expiry (8306) is retried once at once with a fresh
// startTime and signature: the clock moved or the request queued too long,
// which a new stamp fixes; a second 8306 means the clocks disagree
// (permanent). Every other answer is returned as classified by the decoder.
func (c *Caihcom) Send(ctx context.Context, m SMS) error {
	if err := validateCaihcomSMS(m); err != nil {
		return err
	}
	err := c.attempt(ctx, m)
	if e := AsError(err); e != nil && e.Code == "8306" {
		err = c.attempt(ctx, m)
	}
	return err
}

// validateCaihcomSMS rejects what must never reach the vendor.
func validateCaihcomSMS(m SMS) error {
	bad := func(why string) error { return badInput(VendorCaihcom, why) }
	switch {
	case m.MsgID == "":
		return bad("empty msgid")
	case strings.TrimSpace(m.Phone) == "":
		return bad("empty phone")
	case strings.Contains(m.Phone, ","):
		// phones is a comma list on the wire; more than one would make a
		// partial failure ("status 1") unresolvable without re-sending.
		return bad("one phone per request")
	case m.Content == "":
		return bad("empty content")
	}
	return nil
}

// attempt is one signed exchange, stamped now.
func (c *Caihcom) attempt(ctx context.Context, m SMS) error {
	if err := ctx.Err(); err != nil { // no stamp for a call that will not be made
		return transportError(VendorCaihcom, err)
	}
	body, err := EncodeCaihcomRequest(c.cfg.AppKey, c.cfg.AppID, c.now(), m)
	if err != nil {
		return &Error{Vendor: VendorCaihcom, Class: ClassPermanent, Code: "bad_input", Message: "cannot encode request", Err: fmt.Errorf("%w: %w", ErrBadRequest, err)}
	}
	_, err = exchange(ctx, c.tr, request{
		url: c.url,
		header: http.Header{
			"Content-Type": {"application/json"},
			"Sign":         {CaihcomSign(c.cfg.AuthToken, body)},
		},
		body: body,
	}, func(status int, h http.Header, body []byte) (struct{}, error) {
		return struct{}{}, decodeCaihcom(status, h, body)
	})
	return err
}

// caihcomAnswer is the response envelope. Members are kept raw because the
// document shows numbers but a gateway may quote them (answertext.go).
type caihcomAnswer struct {
	Header *struct {
		Status    json.RawMessage `json:"status"`
		Desc      json.RawMessage `json:"desc"`
		ErrorInfo *struct {
			Code    json.RawMessage `json:"code"`
			Message json.RawMessage `json:"message"`
		} `json:"errorInfo"`
		Total json.RawMessage `json:"total"`
		Succ  json.RawMessage `json:"succ"`
	} `json:"header"`
	// body (per-phone results) is documented as "always an array" but the
	// document's own example shows an object, and it is not needed: a
	// one-phone request's outcome is header.status. So header.status 0 is
	// what says success; a 2xx without it is malformed.
}

// caihcomNumber reads a JSON integer or a quoted integer as canonical text;
// ok=false when absent or neither.
func caihcomNumber(raw json.RawMessage) (string, bool) {
	n, ok := jsonInt(raw)
	if !ok {
		return "", false
	}
	return strconv.Itoa(n), true
}

// decodeCaihcom classifies one answer (pure: fuzzed by FuzzDecodeCaihcom).
func decodeCaihcom(status int, h http.Header, body []byte) error {
	if status != http.StatusOK {
		return httpStatusError(VendorCaihcom, status, h, http.StatusText(status))
	}
	var a caihcomAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return malformed(VendorCaihcom, status, "not the documented JSON envelope")
	}
	if a.Header == nil {
		return malformed(VendorCaihcom, status, "no header")
	}
	st, ok := caihcomNumber(a.Header.Status)
	if !ok {
		return malformed(VendorCaihcom, status, "no header.status")
	}
	var code, msg string
	if ei := a.Header.ErrorInfo; ei != nil {
		code, _ = caihcomNumber(ei.Code)
		msg = jsonText(ei.Message)
	}
	if msg == "" {
		msg = jsonText(a.Header.Desc)
	}
	e := &Error{Vendor: VendorCaihcom, Code: code, Message: boundMessage(msg)}
	switch st {
	case "0":
		return nil
	case "1":
		// Partly failed. The client sends one phone per request, so this
		// should not happen; if it does, some phone may have the message,
		// and a re-send could deliver it twice: never retry.
		e.Class, e.Code = ClassPermanent, "status_1"
		total, _ := caihcomNumber(a.Header.Total)
		succ, _ := caihcomNumber(a.Header.Succ)
		e.Message = boundMessage(fmt.Sprintf("partly failed (total=%s succ=%s): %s", total, succ, msg))
		return e
	case "2", "3":
		e.Class = caihcomCodeClass(code, st)
		if code == "" {
			e.Code = "status_" + st
		}
		if e.Class == ClassThrottled {
			e.Delay = max(caihcomBusyDelay, retryAfter(h, time.Now()))
		}
		return e
	default:
		return malformed(VendorCaihcom, status, "unknown header.status "+st)
	}
}

// caihcomCodeClass maps header.errorInfo.code (status 2 "all failed" or 3
// "system error") to a class. 8306 is permanent here; Send retries it once.
func caihcomCodeClass(code, status string) Class {
	switch code {
	case "8201", "8202", "8203": // system busy or upgrading: wait ≥10 minutes
		return ClassThrottled
	case "8401": // balance exhausted
		return ClassQuota
	case "800": // server internal error
		return ClassTransient
	case "8101", "8102", "8103", "8104", "8105", // malformed request
		"8301", "8302", "8303", "8304", "8305", "8306", "8307": // key, signature, time, permission
		return ClassPermanent
	}
	// No or undocumented code: a system error is worth a bounded retry;
	// "all failed" is a business refusal (e.g. an invalid number).
	if status == "3" {
		return ClassTransient
	}
	return ClassPermanent
}

func init() { Register(caihcomVendor) }

var caihcomVendor = Descriptor{
	Name: VendorCaihcom, Kind: KindSMS,
	DefaultBaseURL: caihcomDefaultBase, DefaultRate: 10,
	Credentials: []Credential{
		{Key: "appkey", Required: true},
		{Key: "app_id", Required: true},
		{Key: "auth_token", Required: true, Secret: true},
	},
	New: func(s Settings) (Client, error) {
		c, err := NewCaihcom(CaihcomConfig{
			BaseURL: s.BaseURL, AppKey: s.Credentials["appkey"], AppID: s.Credentials["app_id"],
			AuthToken: s.Credentials["auth_token"], HTTPClient: s.HTTPClient, Timeout: s.Timeout,
		})
		if err != nil {
			return Client{}, err
		}
		return Client{SMS: c}, nil
	},
}
