package vendorsim

import (
	"bytes"
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
)

// yesapi: POST / with a form (docs/vendors.md, yesapi).
// Every answer is HTTP 200 {"ret", "data", "msg", "_t", "_auth"}.

// yesRetMessages are the document's descriptions of its ret codes.
var yesRetMessages = map[int]string{
	400: "非法请求，参数错误",
	401: "用户未登录，或登录凭证已过期",
	402: "IP已被黑名单拦截",
	403: "IP未命中白名单",
	404: "接口服务不存在",
	406: "非法app_key，请核对你所在的接口域名",
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
	417: "子应用异常，如：子应用签名错误/已过期/流量不足",
	500: "小白接口异常",
}

// yesErrMessages are data.err_msg for the documented err_code values.
var yesErrMessages = map[int]string{
	1: "创建失败，不符合表字段要求，或表字段不存在",
	2: "应用层规则拦截",
}

func (s *Sim) handleYesapi(w http.ResponseWriter, r *http.Request) {
	// A call is in flight from its arrival to its answer. The slot is taken
	// before begin so that an injected latency holds it, as a slow call holds
	// a real server's worker; a call over the cap takes no slot.
	s.mu.Lock()
	over := s.yesInFlight >= s.cfg.Yesapi.MaxInFlight
	if !over {
		s.yesInFlight++
	}
	s.mu.Unlock()
	if !over {
		defer s.yesRelease()
	}

	// The vendor reads GET and POST parameters alike; the simulator reads
	// only the POST body, because a client must never put them in the URL
	// (long URLs fail with HTTP 414). The body is read before begin's
	// latency: net/http notices a client that hung up (and cancels
	// r.Context()) only once the body has been read.
	r.Body = http.MaxBytesReader(w, r.Body, tblMaxBody)
	perr := r.ParseForm()
	form := r.PostForm

	inj, ok := s.begin(w, r, TargetYesapi)
	if !ok {
		return
	}
	// Answers to the configured app are signed with its secret (_auth);
	// for any other app_key the server has no secret to sign with.
	signed := perr == nil && form.Get("app_key") == s.cfg.Yesapi.AppKey

	// bad_auth tampers with an otherwise normal answer, so it is applied last.
	if inj.Code != "" && inj.Code != "bad_auth" {
		s.yesRenderInjected(w, inj, signed)
		return
	}
	switch {
	case over:
		s.yesFail(w, 414, signed)
	case perr != nil:
		s.yesFail(w, 400, signed)
	case form.Get("s") != "App.Table.Create":
		s.yesFail(w, 404, signed)
	case form.Get("app_key") != s.cfg.Yesapi.AppKey:
		s.yesFail(w, 406, false)
	case !yesSignValid(form, s.cfg.Yesapi.AppSecret):
		s.yesFail(w, 409, signed)
	case form.Get("model_name") == "":
		s.yesFail(w, 400, signed)
	case !tblIsObject([]byte(form.Get("data"))):
		s.yesErrCode(w, 1, signed)
	default:
		code := "ok"
		if inj.Code == "bad_auth" {
			code = inj.Code // the record is created; only the answer is spoilt
		}
		key := form.Get("model_name") + "\x00" + tblCanonical([]byte(form.Get("data")))
		s.mu.Lock()
		id := s.stats[TargetYesapi].Accepted + 1 // auto-increment id, as the document says
		s.countLocked(TargetYesapi, code, true, key)
		s.mu.Unlock()
		data := fmt.Sprintf(`{"err_code":0,"err_msg":"","id":%d}`, id)
		s.yesWrite(w, 200, []byte(data), "当前小白接口：App.Table.Create", signed, code == "bad_auth")
	}
}

func (s *Sim) yesRelease() {
	s.mu.Lock()
	if s.yesInFlight > 0 { // Reset may have zeroed it meanwhile
		s.yesInFlight--
	}
	s.mu.Unlock()
}

// yesRenderInjected renders an injected code: "4xx"/"500" as that ret,
// "err_code_N" as data.err_code N, "http_NNN" as a bare HTTP status.
func (s *Sim) yesRenderInjected(w http.ResponseWriter, inj injected, signed bool) {
	if status, ok := tblInjectedStatus(inj.Code); ok {
		s.count(TargetYesapi, inj.Code, false, "")
		tblBareStatus(w, status, inj.RetryAfter)
		return
	}
	if rest, ok := strings.CutPrefix(inj.Code, "err_code_"); ok {
		if n, err := strconv.Atoi(rest); err == nil {
			s.yesErrCode(w, n, signed)
			return
		}
	}
	if n, err := strconv.Atoi(inj.Code); err == nil {
		s.yesFail(w, n, signed)
		return
	}
	s.count(TargetYesapi, inj.Code, false, "")
	http.Error(w, "vendorsim: unknown yesapi fault code "+inj.Code, http.StatusInternalServerError)
}

// yesFail answers ret (not 200). PHP encodes the empty data array as [].
func (s *Sim) yesFail(w http.ResponseWriter, ret int, signed bool) {
	s.count(TargetYesapi, strconv.Itoa(ret), false, "")
	s.yesWrite(w, ret, []byte("[]"), yesRetMessages[ret], signed, false)
}

// yesErrCode answers ret 200 with data.err_code n (nothing created).
func (s *Sim) yesErrCode(w http.ResponseWriter, n int, signed bool) {
	s.count(TargetYesapi, "err_code_"+strconv.Itoa(n), false, "")
	data := `{"err_code":` + strconv.Itoa(n) + `,"err_msg":` + yesPHPString(yesErrMessages[n]) + `}`
	s.yesWrite(w, 200, []byte(data), "", signed, false)
}

// yesWrite writes the envelope around data, whose exact bytes _auth signs:
// _auth = md5(data text + _t + app_secret), lower-case hex.
func (s *Sim) yesWrite(w http.ResponseWriter, ret int, data []byte, msg string, signed, spoil bool) {
	var b bytes.Buffer
	b.WriteString(`{"ret":` + strconv.Itoa(ret) + `,"data":`)
	b.Write(data)
	b.WriteString(`,"msg":` + yesPHPString(msg))
	if signed {
		t := strconv.FormatInt(s.now().Unix(), 10)
		secret := s.cfg.Yesapi.AppSecret
		if spoil {
			secret += "-tampered"
		}
		sum := md5.Sum([]byte(string(data) + t + secret))
		b.WriteString(`,"_t":` + t + `,"_auth":"` + hex.EncodeToString(sum[:]) + `"`)
	}
	b.WriteString("}\n")
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}

// yesSignValid checks sign the way the document's samples compute it: the
// values of every other parameter ordered by name, then the secret; MD5,
// upper-case hex. (Written apart from vendorclient on purpose.)
func yesSignValid(form url.Values, secret string) bool {
	names := make([]string, 0, len(form))
	for k := range form {
		if k != "sign" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var plain strings.Builder
	for _, k := range names {
		plain.WriteString(form.Get(k))
	}
	plain.WriteString(secret)
	sum := md5.Sum([]byte(plain.String()))
	want := strings.ToUpper(hex.EncodeToString(sum[:]))
	return subtle.ConstantTimeCompare([]byte(form.Get("sign")), []byte(want)) == 1
}

// yesPHPString encodes s as PHP's json_encode does by default: non-ASCII as
// \uXXXX and "/" as "\/". The answer's text then differs from what Go would
// write, which is what makes hashing the raw data text (not a re-encoding) matter.
func yesPHPString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\' || r == '/':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r > 0x7e:
			if r > 0xffff {
				r1, r2 := utf16.EncodeRune(r)
				fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
