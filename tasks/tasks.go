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
// asynq must never reach first (SPEC "known traps": asynq archives a task on
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
}

var (
	endpointRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	phoneRe    = regexp.MustCompile(`^1[3-9][0-9]{9}$`)
	subcodeRe  = regexp.MustCompile(`^[0-9]{0,20}$`)
	sendtimeRe = regexp.MustCompile(`^$|^[0-9]{12}$`)
)

// ValidEndpoint reports whether name is a usable endpoint (and queue) name.
func ValidEndpoint(name string) bool { return endpointRe.MatchString(name) }

// Validate checks the payload without knowing the endpoint's vendor.
func (p *RecordCreate) Validate() error {
	if !ValidEndpoint(p.Endpoint) {
		return invalid("endpoint", "must match %s, got %q", endpointRe, p.Endpoint)
	}
	if strings.TrimSpace(p.Table) == "" {
		return invalid("table", "is required")
	}
	if !utf8.ValidString(p.Table) {
		return invalid("table", "is not valid UTF-8")
	}
	if err := validateObject(p.Data); err != nil {
		return invalid("data", "%v", err)
	}
	return validateKey(p.Key)
}

// Validate checks the payload: 1..MaxPhones mainland mobile numbers,
// non-empty content, digit-only subcode, sendtime empty or yyyyMMddHHmm.
func (p *SMSSend) Validate() error {
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
		if !phoneRe.MatchString(ph) {
			return invalid(fmt.Sprintf("phones[%d]", i), "%q is not an 11-digit mainland mobile number", MaskPhone(ph))
		}
		if seen[ph] {
			return invalid(fmt.Sprintf("phones[%d]", i), "%s appears twice", MaskPhone(ph))
		}
		seen[ph] = true
	}
	if strings.TrimSpace(p.Content) == "" {
		return invalid("content", "is required")
	}
	if !utf8.ValidString(p.Content) || !utf8.ValidString(p.Sign) {
		return invalid("content", "is not valid UTF-8")
	}
	if !subcodeRe.MatchString(p.Subcode) {
		return invalid("subcode", "must be digits, got %q", p.Subcode)
	}
	if !sendtimeRe.MatchString(p.Sendtime) {
		return invalid("sendtime", "must be empty or yyyyMMddHHmm, got %q", p.Sendtime)
	}
	return validateKey(p.Key)
}

func validateObject(raw json.RawMessage) error {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return errors.New("is required (a JSON object)")
	}
	if !utf8.Valid(t) {
		return errors.New("is not valid UTF-8")
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
	if !utf8.ValidString(k) {
		return invalid("key", "is not valid UTF-8")
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
	if len(k) < 1 || len(k) > 100 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		digit := '0' <= c && c <= '9'
		if !letter && !digit && strings.IndexByte("._:@/-", c) < 0 {
			return false
		}
	}
	return true
}

// Options returns the asynq options every vendorq task carries: the
// endpoint's queue, the ID derived from key, and the retry backstop.
func Options(endpoint, key string) []asynq.Option {
	opts := []asynq.Option{asynq.Queue(endpoint), asynq.MaxRetry(AsynqMaxRetry)}
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
	return newTask(TypeRecordCreate, p, p.Endpoint, p.Key, opts)
}

// NewSMSSendTask validates p and returns the task.
func NewSMSSendTask(p SMSSend, opts ...asynq.Option) (*asynq.Task, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return newTask(TypeSMSSend, p, p.Endpoint, p.Key, opts)
}

func newTask(typ string, p any, endpoint, key string, opts []asynq.Option) (*asynq.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, invalid("payload", "cannot encode: %v", err)
	}
	if len(b) > MaxPayloadBytes {
		return nil, invalid("payload", "%d bytes, over the %d-byte limit", len(b), MaxPayloadBytes)
	}
	return asynq.NewTask(typ, b, append(Options(endpoint, key), opts...)...), nil
}
