package vendorsim

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// baibaoyun: POST /api/v1/app/{app}/entry/{entry}/data_create
// (docs/vendors.md, baibaoyun). Errors are HTTP 400 {code, message}.

// bbyMessages are the document's messages for its error codes.
var bbyMessages = map[string]string{
	"4001": "接口参数不正确",
	"4002": "表单类型不正确",
	"4003": "当前套餐不包含此功能",
	"4004": "超出请求频率限制",
	"4005": "套餐用量超出限制",
	"4006": "插入数据失败,后端代码返回错误：",
	"4007": "图片大小超过套餐内允许的大小",
	"4008": "图片上传不成功",
	"4009": "聚合表校验失败",
	"4010": "数据插入成功,后端代码返回错误：",
	"4011": "数据不存在",
	"4012": "部门不存在",
	"4013": "用户不存在",
	"9999": "系统异常，请联系管理员",
}

// tblMaxBody bounds a request body the table simulators read.
const tblMaxBody = 8 << 20

func (s *Sim) handleBaibaoyun(w http.ResponseWriter, r *http.Request) {
	// Read the body before begin's latency: net/http notices a client that
	// hung up (and cancels r.Context()) only once the body has been read.
	raw, rerr := io.ReadAll(http.MaxBytesReader(w, r.Body, tblMaxBody))
	inj, ok := s.begin(w, r, TargetBaibaoyun)
	if !ok {
		return
	}
	// Every call that reaches the server counts toward the account's limit,
	// whatever its answer: the limit is on requests, not on records.
	s.mu.Lock()
	inWindow := s.bbyWindow.add(s.now())
	s.mu.Unlock()

	// 4010 inserts the record, so it is rendered only after a valid request.
	if inj.Code != "" && inj.Code != "4010" {
		s.bbyRenderInjected(w, inj)
		return
	}
	// The document does not say what a bad key gets; answer like a typical
	// bearer-token API: HTTP 401 with the usual {code, message} body.
	want := "Bearer " + s.cfg.Baibaoyun.APIKey
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte(want)) != 1 {
		s.count(TargetBaibaoyun, "http_401", false, "")
		writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 401, "message": "APIKey无效或未提供"})
		return
	}
	if inWindow > s.cfg.Baibaoyun.Rate {
		s.bbyError(w, "4004")
		return
	}
	if rerr != nil {
		s.bbyError(w, "4001")
		return
	}
	var req struct {
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(raw, &req) != nil || !tblIsObject(req.Data) {
		s.bbyError(w, "4001")
		return
	}
	key := r.PathValue("app") + "/" + r.PathValue("entry") + "\x00" + tblCanonical(req.Data)
	// Answers are counted before they are written, so a caller that has its
	// answer also sees it in Stats.
	if inj.Code == "4010" {
		s.count(TargetBaibaoyun, "4010", true, key) // the record exists
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": 4010, "message": bbyMessages["4010"] + "模拟的后端代码错误"})
		return
	}
	s.count(TargetBaibaoyun, "ok", true, key)
	writeJSON(w, http.StatusOK, map[string]any{"code": 0, "message": "ok", "data": map[string]string{"_id": tblNewID()}})
}

// bbyError answers HTTP 400 {code, message} with the document's message.
func (s *Sim) bbyError(w http.ResponseWriter, code string) {
	n, _ := strconv.Atoi(code)
	s.count(TargetBaibaoyun, code, false, "")
	writeJSON(w, http.StatusBadRequest, map[string]any{"code": n, "message": bbyMessages[code]})
}

// bbyRenderInjected renders an injected code: a business code as HTTP 400
// {code, message}, "http_NNN" as a bare status.
func (s *Sim) bbyRenderInjected(w http.ResponseWriter, inj injected) {
	if status, ok := tblInjectedStatus(inj.Code); ok {
		s.count(TargetBaibaoyun, inj.Code, false, "")
		tblBareStatus(w, status, inj.RetryAfter)
		return
	}
	if _, err := strconv.Atoi(inj.Code); err == nil {
		s.bbyError(w, inj.Code) // undocumented codes get an empty message
		return
	}
	s.count(TargetBaibaoyun, inj.Code, false, "")
	http.Error(w, "vendorsim: unknown baibaoyun fault code "+inj.Code, http.StatusInternalServerError)
}

// ---- helpers shared by the two table simulators (baibaoyun, yesapi) ----

// tblInjectedStatus parses "http_NNN".
func tblInjectedStatus(code string) (int, bool) {
	rest, ok := strings.CutPrefix(code, "http_")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 100 || n > 999 {
		return 0, false
	}
	return n, true
}

// tblBareStatus answers a status with no vendor body (a gateway's answer).
func tblBareStatus(w http.ResponseWriter, status, retryAfter int) {
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, http.StatusText(status))
}

// tblIsObject reports whether raw is one JSON object.
func tblIsObject(raw []byte) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && t[0] == '{' && json.Valid(t)
}

// tblCanonical re-encodes valid JSON with sorted keys and no spaces, so the
// same record sent twice gives the same idempotency key however it is spelt.
func tblCanonical(raw []byte) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep numbers exactly as sent
	var v any
	if dec.Decode(&v) != nil {
		return string(raw)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return string(raw)
	}
	return string(b)
}

// tblNewID returns a MongoDB-style 24-hex-digit id.
func tblNewID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
