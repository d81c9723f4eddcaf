package vendorsim

import (
	"bytes"
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// caihcom (东信) SMS gateway, docs/vendors.md (caihcom): POST /rest/sms/v1/smsService/singleSubmit.

const (
	caihTimeLayout = "2006-01-02 15:04:05"
	// caihWindow: "startTime为请求发送时间(10分钟内请求有效)", either direction.
	caihWindow = 10 * time.Minute
	// caihBadPhone is the simulator's own business code for a number in
	// Config.Caihcom.BadPhones (the document gives no business codes).
	caihBadPhone = 9001
)

// caihCST is China Standard Time, the zone of startTime.
var caihCST = time.FixedZone("CST", 8*3600)

// caihMessages are the document's messages for its system codes.
var caihMessages = map[int]string{
	800:          "服务器内部错误",
	8101:         "请求url有误,建议检查修正后,重发请求。",
	8102:         "请求json解析有误,建议检查修正后,重发请求。",
	8103:         "请求appkey为空,建议检查修正后,重发请求。",
	8104:         "请求service有误,不存在此service,建议检查修正后,重发请求。",
	8105:         "请求appId为空,建议检查修正后,重发请求。",
	8201:         "系统内部错误。API服务器系统升级时,或系统问题时会出现此错误。建议等待10分钟后重试。",
	8202:         "系统内部错误。API服务器系统升级时,或系统问题时会出现此错误。建议等待10分钟后重试。",
	8203:         "系统内部错误。API服务器系统升级时,或系统问题时会出现此错误。建议等待10分钟后重试。",
	8301:         "请求appkey为空,建议检查修正后,重发请求。",
	8302:         "请求签名为空,建议检查修正后,重发请求。",
	8303:         "签名认证失败,建议检查修正后,重发请求。",
	8304:         "请求时间为设置,建议检查修正后,重发请求。",
	8305:         "请求时间格式有误,建议检查修正后,重发请求。",
	8306:         "请求时间超期。",
	8307:         "您没有权限访问此业务线API,请先开通权限。",
	8401:         "账户余额不足。",
	caihBadPhone: "号码无效",
}

var caihDesc = map[int]string{0: "success", 1: "partly failed", 2: "all failed", 3: "system error"}

type caihErrorInfo struct {
	Code    any    `json:"code"` // a number as in the document; text for an injected non-numeric code
	Message string `json:"message"`
}

type caihAnswerHeader struct {
	Status    int            `json:"status"`
	Desc      string         `json:"desc"`
	ErrorInfo *caihErrorInfo `json:"errorInfo,omitempty"` // never present with status 0
	Total     int            `json:"total"`
	Succ      int            `json:"succ"`
	OptTime   int64          `json:"optTime"`
}

// caihPhoneResult is one phone's outcome. The document leaves the body's
// content to each API; this shape is the simulator's choice.
type caihPhoneResult struct {
	MsgID   string `json:"msgid"`
	Phone   string `json:"phone"`
	Status  int    `json:"status"` // 0 accepted, 1 refused
	Code    int    `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

type caihAnswer struct {
	Header caihAnswerHeader  `json:"header"`
	Body   []caihPhoneResult `json:"body"` // always an array, even when empty
}

type caihRequest struct {
	Header struct {
		AppKey    string `json:"appkey"`
		StartTime string `json:"startTime"`
		AppID     string `json:"appId"`
	} `json:"header"`
	Body struct {
		MsgID    string `json:"msgid"`
		Phones   string `json:"phones"`
		Content  string `json:"content"`
		Sign     string `json:"sign"`
		Subcode  string `json:"subcode"`
		Sendtime string `json:"sendtime"`
	} `json:"body"`
}

// caihSign is the document's signature, computed here independently of the client.
func caihSign(token string, body []byte) string {
	sum := md5.Sum(append(append([]byte(token), body...), token...))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

func (s *Sim) handleCaihcom(w http.ResponseWriter, r *http.Request) {
	start := time.Now() // optTime is real elapsed time, whatever the fake clock says
	inj, ok := s.begin(w, r, TargetCaihcom)
	if !ok {
		return
	}
	if inj.Code != "" {
		s.caihInjected(w, inj, start)
		return
	}
	cfg := s.cfg.Caihcom
	fail := func(code int) { s.caihFail(w, start, code) }

	// The document: every request is application/json, compact, UTF-8.
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		fail(8102)
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		fail(8102)
		return
	}
	var req caihRequest
	var compact bytes.Buffer
	if err := json.Unmarshal(raw, &req); err != nil || json.Compact(&compact, raw) != nil || !bytes.Equal(compact.Bytes(), raw) {
		fail(8102) // also: whitespace between tokens, which the document forbids
		return
	}
	h := req.Header
	switch {
	case h.AppKey == "":
		fail(8103)
	case h.AppID == "":
		fail(8105)
	case h.AppKey != cfg.AppKey:
		fail(8301)
	case r.Header.Get("sign") == "":
		fail(8302)
	case subtle.ConstantTimeCompare([]byte(r.Header.Get("sign")), []byte(caihSign(cfg.AuthToken, raw))) != 1:
		fail(8303)
	case h.AppID != cfg.AppID:
		fail(8307) // the account has no such application
	case h.StartTime == "":
		fail(8304)
	default:
		t, err := time.ParseInLocation(caihTimeLayout, h.StartTime, caihCST)
		if err != nil || t.Format(caihTimeLayout) != h.StartTime { // round trip: no one-digit hours
			fail(8305)
			return
		}
		if d := s.now().Sub(t); d > caihWindow || d < -caihWindow {
			fail(8306)
			return
		}
		s.caihSubmit(w, start, req)
	}
}

// caihSubmit decides each phone of an authenticated request. phones is a
// comma list; each phone is counted on its own (accepted with idempotency key
// msgid:phone, or refused with its code), so that Stats().Duplicates counts a
// phone messaged twice under one msgid.
func (s *Sim) caihSubmit(w http.ResponseWriter, start time.Time, req caihRequest) {
	b := req.Body
	var phones []string
	for _, p := range strings.Split(b.Phones, ",") {
		if p = strings.TrimSpace(p); p != "" {
			phones = append(phones, p)
		}
	}
	if b.MsgID == "" || b.Content == "" || len(phones) == 0 {
		s.caihFail(w, start, 8102) // the document names no business code for missing fields
		return
	}
	results := make([]caihPhoneResult, 0, len(phones))
	succ, firstFail := 0, 0
	s.mu.Lock()
	for _, p := range phones {
		res := caihPhoneResult{MsgID: b.MsgID, Phone: p}
		switch {
		case slices.Contains(s.cfg.Caihcom.BadPhones, p):
			res.Status, res.Code = 1, caihBadPhone
		case s.caihBalance == 0:
			res.Status, res.Code = 1, 8401
		default:
			if s.caihBalance > 0 {
				s.caihBalance--
			}
			succ++
			s.countLocked(TargetCaihcom, "ok", true, b.MsgID+":"+p)
		}
		if res.Status != 0 {
			res.Message = caihMessages[res.Code]
			s.countLocked(TargetCaihcom, strconv.Itoa(res.Code), false, "")
			if firstFail == 0 {
				firstFail = res.Code
			}
		}
		results = append(results, res)
	}
	s.mu.Unlock()

	a := caihAnswer{Header: caihAnswerHeader{Total: len(phones), Succ: succ}, Body: results}
	switch {
	case succ == len(phones):
		a.Header.Status = 0
	case succ == 0:
		a.Header.Status = 2
	default:
		a.Header.Status = 1
	}
	if firstFail != 0 {
		a.Header.ErrorInfo = &caihErrorInfo{Code: firstFail, Message: caihMessages[firstFail]}
	}
	s.caihWrite(w, start, a)
}

// caihFail answers a request-level error: status 3 for 800 (system error),
// status 2 (all failed) otherwise, and counts it.
func (s *Sim) caihFail(w http.ResponseWriter, start time.Time, code int) {
	s.count(TargetCaihcom, strconv.Itoa(code), false, "")
	s.caihWrite(w, start, caihErrorAnswer(code, code))
}

func caihErrorAnswer(code int, infoCode any) caihAnswer {
	status := 2
	if code == 800 {
		status = 3
	}
	msg, ok := caihMessages[code]
	if !ok {
		msg = "injected fault"
	}
	return caihAnswer{
		Header: caihAnswerHeader{Status: status, ErrorInfo: &caihErrorInfo{Code: infoCode, Message: msg}, Total: 1},
		Body:   []caihPhoneResult{},
	}
}

func (s *Sim) caihWrite(w http.ResponseWriter, start time.Time, a caihAnswer) {
	a.Header.Desc = caihDesc[a.Header.Status]
	a.Header.OptTime = time.Since(start).Milliseconds()
	writeJSON(w, http.StatusOK, a)
}

// caihInjected renders an injected fault: "http_NNN" as a bare status,
// "status_1" as a partial failure, "800" as a system error (status 3), and
// any other code as "all failed" (status 2) with that errorInfo code.
func (s *Sim) caihInjected(w http.ResponseWriter, inj injected, start time.Time) {
	code := inj.Code
	s.count(TargetCaihcom, code, false, "")
	switch {
	case strings.HasPrefix(code, "http_"):
		n, err := strconv.Atoi(strings.TrimPrefix(code, "http_"))
		if err != nil || n < 200 || n > 599 {
			n = http.StatusInternalServerError
		}
		if inj.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(inj.RetryAfter))
		}
		w.WriteHeader(n)
	case code == "status_1":
		s.caihWrite(w, start, caihAnswer{
			Header: caihAnswerHeader{Status: 1, ErrorInfo: &caihErrorInfo{Code: caihBadPhone, Message: caihMessages[caihBadPhone]}, Total: 2, Succ: 1},
			Body:   []caihPhoneResult{},
		})
	default:
		n, err := strconv.Atoi(code)
		if err != nil {
			s.caihWrite(w, start, caihErrorAnswer(-1, code))
			return
		}
		s.caihWrite(w, start, caihErrorAnswer(n, n))
	}
}
