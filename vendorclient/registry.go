package vendorclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// The registry is the one place that knows what vendors exist. Config,
// tasks, producers, the importer, the worker and the handlers ask it (by
// the endpoint's `vendor:` name) instead of comparing vendor names, so that
// a new vendor is one file in this package with one Register call.

// Kind is what a vendor's endpoint carries: records or SMS.
type Kind int

// The kinds. An endpoint of KindRecord takes record:create tasks, one of
// KindSMS takes sms:send tasks.
const (
	KindRecord Kind = iota + 1
	KindSMS
)

// String returns "record" or "sms".
func (k Kind) String() string {
	switch k {
	case KindRecord:
		return "record"
	case KindSMS:
		return "sms"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Credential is one configuration key of a vendor account (`api_key`,
// `app_secret`, …) as written in vendorq.yaml.
type Credential struct {
	Key      string // the YAML key, snake_case
	Required bool   // the worker refuses to start without it
	Secret   bool   // never logged; scrubbed from every error the client returns
}

// Settings are what a constructor gets for one endpoint.
type Settings struct {
	Endpoint    string            // the endpoint's name (for Redis keys and logs)
	BaseURL     string            // "" = the descriptor's DefaultBaseURL
	Credentials map[string]string // by Credential.Key
	Timeout     time.Duration     // one HTTP exchange; 0 = DefaultTimeout
	HTTPClient  *http.Client      // nil = NewHTTPClient(Timeout)
	// Redis is where state shared by every worker process lives (the
	// dhgjcloud token). A vendor names its keys KeyPrefix+"…": the prefix
	// carries the endpoint's hash tag, so they share one Cluster slot.
	Redis     redis.UniversalClient
	KeyPrefix string
}

// Client is a constructed vendor client: Records for KindRecord vendors,
// SMS for KindSMS vendors.
type Client struct {
	Records RecordCreator
	SMS     SMSSender
}

// SMSSender sends one message to one phone (caihcom).
type SMSSender interface {
	Send(ctx context.Context, m SMS) error
}

// Descriptor is everything the rest of vendorq knows about one vendor.
type Descriptor struct {
	Name           string // the `vendor:` value
	Kind           Kind
	DefaultBaseURL string
	DefaultRate    float64 // documented calls/second
	// TableForm says in a few words what a record task's `table` is for this
	// vendor ("APP_ID/ENTRY_ID"); "" for SMS vendors.
	TableForm   string
	Credentials []Credential
	// ValidateTable checks a record task's table before it is enqueued
	// (nil = any non-empty table). The error says what form is expected.
	ValidateTable func(table string) error
	// New builds the client of one endpoint.
	New func(s Settings) (Client, error)
}

// ErrUnknownVendor is returned by Lookup for a name nobody registered.
var ErrUnknownVendor = errors.New("unknown vendor")

var registry = struct {
	sync.RWMutex
	m map[string]Descriptor
}{m: map[string]Descriptor{}}

// Register adds a vendor. It panics on a programming error (empty name,
// no kind or constructor, a name registered twice), like http.Handle.
// Vendors register themselves from an init func in their file; tests may
// register fakes under names of their own.
func Register(d Descriptor) {
	if d.Name == "" || d.New == nil || (d.Kind != KindRecord && d.Kind != KindSMS) {
		panic("vendorclient: Register needs a Name, a Kind and a New func")
	}
	seen := map[string]bool{}
	for _, c := range d.Credentials {
		if c.Key == "" || seen[c.Key] {
			panic("vendorclient: vendor " + d.Name + " declares an empty or repeated credential key")
		}
		seen[c.Key] = true
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.m[d.Name]; dup {
		panic("vendorclient: vendor " + d.Name + " registered twice")
	}
	registry.m[d.Name] = d
}

// Lookup returns the named vendor's descriptor.
func Lookup(name string) (Descriptor, error) {
	registry.RLock()
	defer registry.RUnlock()
	d, ok := registry.m[name]
	if !ok {
		return Descriptor{}, fmt.Errorf("%w %q", ErrUnknownVendor, name)
	}
	return d, nil
}

// Vendors returns the registered vendor names, sorted.
func Vendors() []string {
	registry.RLock()
	defer registry.RUnlock()
	names := make([]string, 0, len(registry.m))
	for n := range registry.m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// TableForms says what a record task's table is for every record vendor,
// for help texts: "APP_ID/ENTRY_ID (baibaoyun), … or a model_name (yesapi)".
func TableForms() string {
	var forms []string
	for _, name := range Vendors() {
		if d, _ := Lookup(name); d.Kind == KindRecord && d.TableForm != "" {
			forms = append(forms, d.TableForm+" ("+name+")")
		}
	}
	if len(forms) < 2 {
		return strings.Join(forms, "")
	}
	return strings.Join(forms[:len(forms)-1], ", ") + " or " + forms[len(forms)-1]
}

// Secrets returns the values of d's secret credentials in creds, for
// scrubbing.
func (d Descriptor) Secrets(creds map[string]string) []string {
	var out []string
	for _, c := range d.Credentials {
		if v := creds[c.Key]; c.Secret && v != "" {
			out = append(out, v)
		}
	}
	return out
}

// Credential returns the named credential key of d and whether it exists.
func (d Descriptor) Credential(key string) (Credential, bool) {
	for _, c := range d.Credentials {
		if c.Key == key {
			return c, true
		}
	}
	return Credential{}, false
}

// errNoTable is what a record vendor without a rule of its own says of an
// empty table.
var errNoTable = errors.New("wants a table, got none")

// CheckTable applies d's ValidateTable (any non-empty table when d has
// none). The error is the reason only; the caller names the field and the
// vendor (tasks.ValidateTable).
func (d Descriptor) CheckTable(table string) error {
	if d.ValidateTable == nil {
		if table == "" {
			return errNoTable
		}
		return nil
	}
	return d.ValidateTable(table)
}

// records wraps a record constructor's result, so that a failed
// constructor never leaves a typed nil in Client.Records.
func records[C RecordCreator](c C, err error) (Client, error) {
	if err != nil {
		return Client{}, err
	}
	return Client{Records: c}, nil
}
