// Package tasks defines vendorq's task types, their payloads and the
// constructors that validate a payload and turn it into an *asynq.Task bound
// for its endpoint's queue. It is the public API for Go producers:
//
//	task, err := tasks.NewRecordCreateTask(tasks.RecordCreate{Endpoint: "forms", Table: "app/entry", Data: data, Key: "order-42"})
//	info, err := client.Enqueue(task) // asynq.ErrTaskIDConflict = already enqueued (same key)
package tasks

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/hibiken/asynq"
)

// Task type names.
const (
	TypeRecordCreate = "record:create"
	TypeSMSSend      = "sms:send"
)

// MaxPayloadBytes bounds one task's JSON payload.
const MaxPayloadBytes = 256 << 10

// MaxPhones bounds the phones of one sms:send task.
const MaxPhones = 1000

// AsynqMaxRetry is the asynq-level retry ceiling given to every task. The
// worker enforces each endpoint's own max_retry on vendor failures and never
// lets asynq count throttling or quota waits, so this is only a backstop that
// asynq must never reach first (docs/asynq-traps.md: asynq archives a task on
// its last retry even when the error is not a failure).
const AsynqMaxRetry = 1000

// ErrInvalid is wrapped by every validation error; errors.Is(err, ErrInvalid).
var ErrInvalid = errors.New("invalid task")

// FieldError names the payload field that is wrong.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Is makes errors.Is(err, ErrInvalid) true for a *FieldError.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, a ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, a...)}
}

// RecordCreate is the payload of record:create.
type RecordCreate struct {
	Endpoint string          `json:"endpoint"`
	Table    string          `json:"table"` // app_id/entry_id (baibaoyun), model_name (yesapi), API path (dhgjcloud)
	Data     json.RawMessage `json:"data"`  // a JSON object
	Key      string          `json:"key,omitempty"`
	Priority Priority        `json:"priority,omitempty"` // lane; "" = default (priority.go)
	BatchRef                 // the import batch and line it came from, if any (batchref.go)
}

// SMSSend is the payload of sms:send.
type SMSSend struct {
	Endpoint string   `json:"endpoint"`
	Phones   []string `json:"phones"`
	Content  string   `json:"content"`
	Sign     string   `json:"sign"`
	Subcode  string   `json:"subcode"`
	Sendtime string   `json:"sendtime"` // "" = now; else yyyyMMddHHmm
	Key      string   `json:"key,omitempty"`
	Priority Priority `json:"priority,omitempty"` // lane; "" = default (priority.go)
	BatchRef          // the import batch and line it came from, if any (batchref.go)
}

var (
	endpointRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	phoneRe    = regexp.MustCompile(`^1[3-9][0-9]{9}$`)
	subcodeRe  = regexp.MustCompile(`^[0-9]{0,20}$`)
	sendtimeRe = regexp.MustCompile(`^$|^[0-9]{12}$`)
)

// ValidEndpoint reports whether name is a usable endpoint (and queue) name:
// it matches endpointRe. A loop over a byte table, not the regexp: it runs
// for every enqueued task (validation, lane queue names, wakes) and the
// regexp was a tenth of an import's CPU.
func ValidEndpoint(name string) bool {
	return allIn(name, &endpointByte, 64)
}

// allIn reports whether s has 1..maxLen bytes, every one in set.
func allIn(s string, set *[256]bool, maxLen int) bool {
	if len(s) < 1 || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !set[s[i]] {
			return false
		}
	}
	return true
}

// endpointByte and keyByte are the bytes endpointRe and plainKey allow.
var endpointByte, keyByte = byteSets("_-"), byteSets("._:@/-")

func byteSets(punct string) (set [256]bool) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		set[c] = 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte(punct, b) >= 0
	}
	return set
}

// Validate checks the payload without knowing the endpoint's vendor.
func (p *RecordCreate) Validate() error {
	if err := checkTexts("endpoint", p.Endpoint, "table", p.Table, "key", p.Key); err != nil {
		return err
	}
	if !ValidEndpoint(p.Endpoint) {
		return invalid("endpoint", "must match %s, got %q", endpointRe, p.Endpoint)
	}
	if strings.TrimSpace(p.Table) == "" {
		return invalid("table", "is required")
	}
	if err := validateObject(p.Data); err != nil {
		return invalid("data", "%v", err)
	}
	if !p.Priority.valid() {
		return errPriority(p.Priority)
	}
	if err := p.validateBatch(); err != nil {
		return err
	}
	return validateKey(p.Key)
}

// Validate checks the payload: 1..MaxPhones mainland mobile numbers,
// non-empty content, digit-only subcode, sendtime empty or yyyyMMddHHmm.
func (p *SMSSend) Validate() error {
	if err := checkTexts("endpoint", p.Endpoint, "content", p.Content, "sign", p.Sign,
		"subcode", p.Subcode, "sendtime", p.Sendtime, "key", p.Key); err != nil {
		return err
	}
	if !ValidEndpoint(p.Endpoint) {
		return invalid("endpoint", "must match %s, got %q", endpointRe, p.Endpoint)
	}
	if len(p.Phones) == 0 {
		return invalid("phones", "at least one phone is required")
	}
	if len(p.Phones) > MaxPhones {
		return invalid("phones", "at most %d phones per task, got %d", MaxPhones, len(p.Phones))
	}
	seen := make(map[string]bool, len(p.Phones))
	for i, ph := range p.Phones {
		field := fmt.Sprintf("phones[%d]", i)
		if err := checkText(field, ph); err != nil {
			return err
		}
		if !phoneRe.MatchString(ph) {
			return invalid(field, "%q is not an 11-digit mainland mobile number", MaskPhone(ph))
		}
		if seen[ph] {
			return invalid(field, "%s appears twice", MaskPhone(ph))
		}
		seen[ph] = true
	}
	if strings.TrimSpace(p.Content) == "" {
		return invalid("content", "is required")
	}
	if !subcodeRe.MatchString(p.Subcode) {
		return invalid("subcode", "must be digits, got %q", p.Subcode)
	}
	if !sendtimeRe.MatchString(p.Sendtime) {
		return invalid("sendtime", "must be empty or yyyyMMddHHmm, got %q", p.Sendtime)
	}
	if !p.Priority.valid() {
		return errPriority(p.Priority)
	}
	if err := p.validateBatch(); err != nil {
		return err
	}
	return validateKey(p.Key)
}

func validateObject(raw json.RawMessage) error {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return errors.New("is required (a JSON object)")
	}
	if path, reason, bad := BadJSONText(t); bad {
		return fmt.Errorf("%s in data%s", reason, pathSuffix(path))
	}
	if t[0] != '{' || !json.Valid(t) {
		return errors.New("must be a JSON object")
	}
	return nil
}

func validateKey(k string) error {
	if len(k) > 200 {
		return invalid("key", "at most 200 bytes, got %d", len(k))
	}
	return nil
}

// TaskID turns a producer's idempotency key into the asynq task ID: the key
// itself when it is short and plain (readable in the dashboard), otherwise a
// hash of it. An empty key gives "" (asynq picks a random ID).
func TaskID(key string) string {
	if key == "" {
		return ""
	}
	if plainKey(key) {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "h-" + hex.EncodeToString(sum[:16])
}

// plainKey reports whether k matches ^[A-Za-z0-9._:@/-]{1,100}$. It is a
// loop, not a regexp: TaskID runs several times per enqueued task and the
// regexp was a tenth of a batch import's CPU.
func plainKey(k string) bool {
	return allIn(k, &keyByte, 100)
}

// Options returns the asynq options every default-lane vendorq task
// carries: the endpoint's queue, the ID derived from key, and the retry
// backstop.
func Options(endpoint, key string) []asynq.Option { return LaneOptions(endpoint, PriorityDefault, key) }

// LaneOptions is Options for lane p: the queue is Queue(endpoint, p).
func LaneOptions(endpoint string, p Priority, key string) []asynq.Option {
	opts := []asynq.Option{asynq.Queue(Queue(endpoint, p)), asynq.MaxRetry(AsynqMaxRetry)}
	if id := TaskID(key); id != "" {
		opts = append(opts, asynq.TaskID(id))
	}
	return opts
}

// NewRecordCreateTask validates p and returns the task. Extra options
// (asynq.ProcessIn, …) are applied after the defaults.
func NewRecordCreateTask(p RecordCreate, opts ...asynq.Option) (*asynq.Task, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return newTask(TypeRecordCreate, p, p.Endpoint, p.Priority, p.Key, opts)
}

// NewSMSSendTask validates p and returns the task.
func NewSMSSendTask(p SMSSend, opts ...asynq.Option) (*asynq.Task, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return newTask(TypeSMSSend, p, p.Endpoint, p.Priority, p.Key, opts)
}

func newTask(typ string, p any, endpoint string, lane Priority, key string, opts []asynq.Option) (*asynq.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, invalid("payload", "cannot encode: %v", err)
	}
	if len(b) > MaxPayloadBytes {
		return nil, invalid("payload", "%d bytes, over the %d-byte limit", len(b), MaxPayloadBytes)
	}
	return asynq.NewTask(typ, b, append(LaneOptions(endpoint, lane, key), opts...)...), nil
}

// The UTF-8 rule, one for every producer (Go code, the enqueue CLI, imports,
// the HTTP API): all text of a task is valid UTF-8. A JSON \u escape counts
// as the character it encodes, so half of a UTF-16 surrogate pair (\ud83d
// alone) breaks the rule as invalid bytes do: decoders, encoding/json
// included, silently turn both into U+FFFD, and the vendor would get that.

// checkTexts applies the UTF-8 rule to fields given as name, value pairs.
func checkTexts(nameValue ...string) error {
	for i := 0; i+1 < len(nameValue); i += 2 {
		if err := checkText(nameValue[i], nameValue[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// checkText applies the UTF-8 rule to one text field.
func checkText(field, s string) error {
	if utf8.ValidString(s) {
		return nil
	}
	for i := 0; ; {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return invalid(field, "%s", notUTF8(s[i], i))
		}
		i += size
	}
}

func notUTF8(b byte, offset int) string {
	return fmt.Sprintf("is not valid UTF-8 (byte 0x%02X at byte offset %d)", b, offset)
}

// BadJSONText applies the UTF-8 rule to every string of the JSON value raw,
// member names included, and reports the first one that breaks it: its path
// below raw ("name", "a.b[2]"; "" when raw itself is that string; for a bad
// member name, the object holding it) and why (offsets count from the start
// of raw). It works on the raw bytes because a decoded string has already
// lost them. raw should be valid JSON (decode it first): on malformed input
// the answer is best effort, never a panic.
func BadJSONText(raw []byte) (path, reason string, found bool) {
	if utf8.Valid(raw) && !hasSurrogateEscape(raw) {
		return "", "", false // the common case, at memory speed
	}
	var open []jsonStep // the containers around position i, outermost first
	for i := 0; i < len(raw); i++ {
		var top *jsonStep
		if len(open) > 0 {
			top = &open[len(open)-1]
		}
		// Outside strings, valid JSON has no byte that matters here but
		// these: numbers and literals are skipped byte by byte.
		switch raw[i] {
		case '{':
			open = append(open, jsonStep{object: true, awaitingKey: true})
		case '[':
			open = append(open, jsonStep{})
		case '}', ']':
			if top != nil {
				open = open[:len(open)-1]
			}
		case ',':
			if top != nil && top.object {
				top.awaitingKey = true
			} else if top != nil {
				top.index++
			}
		case '"':
			end, bad := scanJSONString(raw, i)
			isKey := top != nil && top.object && top.awaitingKey
			switch {
			case bad != "" && isKey:
				return renderPath(open[:len(open)-1]), "has a member name that " + bad, true
			case bad != "":
				return renderPath(open), bad, true
			case isKey:
				top.key, top.awaitingKey = memberName(raw[i:end]), false
			}
			i = end - 1
		}
	}
	return "", "", false
}

// jsonStep is one open container of BadJSONText and where it is inside it.
type jsonStep struct {
	object      bool
	awaitingKey bool   // object: the next string is a member name
	key         string // object: the current member
	index       int    // array: the current element
}

func renderPath(open []jsonStep) string {
	var b strings.Builder
	for _, s := range open {
		if s.object {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.key)
		} else {
			fmt.Fprintf(&b, "[%d]", s.index)
		}
	}
	return b.String()
}

// pathSuffix is how path continues the path of its container.
func pathSuffix(path string) string {
	if path == "" || path[0] == '[' {
		return path
	}
	return "." + path
}

// memberName decodes a quoted member name (already checked) for a path.
func memberName(quoted []byte) string {
	if bytes.IndexByte(quoted, '\\') < 0 {
		return string(quoted[1 : len(quoted)-1])
	}
	var s string
	if json.Unmarshal(quoted, &s) != nil {
		return string(quoted)
	}
	return s
}

// scanJSONString checks the string that starts with the quote at b[i]
// against the UTF-8 rule and returns the index just past its closing quote.
func scanJSONString(b []byte, i int) (end int, reason string) {
	for j := i + 1; j < len(b); {
		c := b[j]
		switch {
		case c == '"':
			return j + 1, ""
		case c == '\\' && j+1 < len(b) && b[j+1] == 'u':
			r, ok := hex4(b, j+2)
			switch {
			case !ok:
				j += 2
			case r < 0xD800 || r > 0xDFFF:
				j += 6
			case r < 0xDC00 && j+12 <= len(b) && b[j+6] == '\\' && b[j+7] == 'u' && isLowSurrogate(b, j+8):
				j += 12 // a pair: one character outside the BMP
			default:
				return j, fmt.Sprintf("is not valid UTF-8 (%s at byte offset %d is half of a UTF-16 surrogate pair)", b[j:j+6], j)
			}
		case c == '\\':
			j += 2
		case c < utf8.RuneSelf:
			j++
		default:
			r, size := utf8.DecodeRune(b[j:])
			if r == utf8.RuneError && size == 1 {
				return j, notUTF8(c, j)
			}
			j += size
		}
	}
	return len(b), ""
}

func isLowSurrogate(b []byte, i int) bool {
	r, ok := hex4(b, i)
	return ok && 0xDC00 <= r && r <= 0xDFFF
}

// hex4 decodes the 4 hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c|0x20 && c|0x20 <= 'f':
			r = r<<4 | rune(c|0x20-'a'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// hasSurrogateEscape reports whether raw may hold a \uD800–\uDFFF escape
// (an escaped backslash before "ud8.." gives a harmless false positive).
func hasSurrogateEscape(raw []byte) bool {
	for i := 0; ; {
		k := bytes.Index(raw[i:], []byte(`\u`))
		if k < 0 {
			return false
		}
		i += k + 2
		if i+1 < len(raw) && raw[i]|0x20 == 'd' && strings.IndexByte("89abcdefABCDEF", raw[i+1]) >= 0 {
			return true
		}
	}
}
