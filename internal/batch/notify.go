package batch

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/internal/keys"
)

// The completion webhook (`enqueue import --notify URL`, docs/batches.md):
// once every task of a batch ended, done or dead, its counts are POSTed
// once to the batch's URL, signed with HMAC-SHA256 under the config's
// results.notify_secret. Whoever ends the last task sends it: the worker
// whose task completed the batch (in a goroutine of its own, never in the
// handler's way), or the import itself when every task had ended before
// the import finished (Seal).

// completeLua, run after a count (KEYS[1] is the meta hash), returns the
// batch's completion when the import is sealed, every task ended and no
// one claimed the notification yet: {2, url, enqueued, duplicates, done,
// dead, endpoint}.
const completeLua = `
local m = redis.call("HMGET", KEYS[1], "sealed", "notify", "enqueued", "duplicates", "done", "dead", "endpoint")
if m[1] == "1" and m[2] and m[2] ~= "" and tonumber(m[5]) + tonumber(m[6]) >= tonumber(m[3]) then
  if redis.call("HSETNX", KEYS[1], "notified", "1") == 1 then
    return {2, m[2], m[3], m[4], m[5], m[6], m[7]}
  end
end`

// sealScript marks the import finished (no more rows come) and returns the
// completion if every task already ended. KEYS[1] meta.
const sealScript = `
if redis.call("EXISTS", KEYS[1]) == 0 then return 0 end
redis.call("HSET", KEYS[1], "sealed", "1")
` + completeLua + `
return 1`

// Completion is the body of the webhook.
type Completion struct {
	BatchID    string `json:"batch_id"`
	Endpoint   string `json:"endpoint,omitempty"`
	Enqueued   int64  `json:"enqueued"`
	Duplicates int64  `json:"duplicates"`
	Done       int64  `json:"done"`
	Dead       int64  `json:"dead"`
	URL        string `json:"-"`
}

// Completed reads what the end script (End) or Seal answered: ok when that
// call ended the batch's last task and the webhook is to be sent.
func Completed(id string, cmd *redis.Cmd) (Completion, bool) {
	if cmd == nil || cmd.Err() != nil {
		return Completion{}, false
	}
	v, ok := cmd.Val().([]any)
	if !ok || len(v) != 7 {
		return Completion{}, false
	}
	str := func(i int) string { s, _ := v[i].(string); return s }
	n := func(i int) int64 { var x int64; _, _ = fmt.Sscan(str(i), &x); return x }
	return Completion{BatchID: id, URL: str(1), Enqueued: n(2), Duplicates: n(3), Done: n(4), Dead: n(5), Endpoint: str(6)}, true
}

// Seal marks the import done; the completion is returned when every task
// had already ended (ok), for the caller to send.
func (t *Tracker) Seal(ctx context.Context) (Completion, bool, error) {
	cmd := t.rdb.Eval(ctx, sealScript, []string{keys.BatchMeta(t.id)})
	if err := cmd.Err(); err != nil {
		return Completion{}, false, fmt.Errorf("seal batch %s: %w", t.id, err)
	}
	c, ok := Completed(t.id, cmd)
	return c, ok, nil
}

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body.
const SignatureHeader = "X-Vendorq-Signature"

// Sign is the signature header's value for body.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Notifier sends completions. The secret and the URL's query and user
// info never reach a log.
type Notifier struct {
	Secret   []byte
	Client   *http.Client  // nil = a client with a 10 s timeout
	Attempts int           // 0 = 6
	Backoff  time.Duration // before the second attempt, doubling; 0 = 1 s
	Log      zerolog.Logger
}

// Send POSTs c until a 2xx answer or Attempts are spent; it blocks, so a
// handler runs it in a goroutine of its own.
func (n Notifier) Send(ctx context.Context, c Completion) error {
	body, _ := json.Marshal(c)
	client, attempts, wait := n.Client, n.Attempts, n.Backoff
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	attempts = max(attempts, 1)
	if n.Attempts == 0 {
		attempts = 6
	}
	if wait <= 0 {
		wait = time.Second
	}
	log := n.Log.With().Str("batch", c.BatchID).Str("notify_host", hostOf(c.URL)).Logger()
	var last error
	for i := range attempts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			wait *= 2
		}
		last = n.post(ctx, client, c, body)
		if last == nil {
			log.Info().Int64("done", c.Done).Int64("dead", c.Dead).Msg("batch complete: notified")
			return nil
		}
		log.Warn().Err(last).Int("attempt", i+1).Msg("batch completion webhook failed")
	}
	return last
}

func (n Notifier) post(ctx context.Context, client *http.Client, c Completion, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("notify URL: %w", redactURL(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, Sign(n.Secret, body))
	req.Header.Set("X-Vendorq-Batch", c.BatchID)
	resp, err := client.Do(req)
	if err != nil {
		return redactURL(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("answered HTTP %d", resp.StatusCode)
	}
	return nil
}

// redactURL drops the URL from a *url.Error (its query may hold a token).
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "?"
	}
	return u.Host
}

// CheckURL validates a --notify URL: absolute http or https.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("must be an absolute http:// or https:// URL")
	}
	return nil
}
