package vendorclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"sort"
	"strings"
)

// Credentials never leave in an error. Vendors and proxies echo requests
// back (a token endpoint quoting the client secret, an OAuth2 server quoting
// the rejected token, a gateway quoting the Authorization header), and every
// error text goes to logs, metrics labels and dead-letter entries. The
// transport therefore passes every error through one redactor (exchange in
// transport.go) that knows each configured secret and the credential of the
// request at hand.

// redactedMark replaces a secret.
const redactedMark = "[redacted]"

// redactor replaces every form of a set of secrets by redactedMark.
type redactor struct {
	forms []string          // every form of every secret, longest first
	rep   *strings.Replacer // one pass over all forms, so a mark is never re-mangled
}

// newRedactor knows secrets ("" entries are ignored).
func newRedactor(secrets ...string) redactor {
	seen := map[string]bool{}
	var forms []string
	for _, s := range secrets {
		for _, f := range secretForms(s) {
			if f != "" && !seen[f] {
				seen[f] = true
				forms = append(forms, f)
			}
		}
	}
	// At one position the first listed form wins: longest first, so that a
	// form that contains another is replaced whole.
	sort.SliceStable(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, redactedMark)
	}
	return redactor{forms: forms, rep: strings.NewReplacer(pairs...)}
}

// secretForms is s as sent, and as an echo could carry it: percent-encoded
// (a form body or a URL, as url.Values and url.PathEscape write it) and
// escaped inside a JSON string (with and without HTML escaping).
func secretForms(s string) []string {
	if s == "" {
		return nil
	}
	forms := []string{s, url.QueryEscape(s), url.PathEscape(s)}
	if j, err := json.Marshal(s); err == nil {
		forms = append(forms, string(j[1:len(j)-1]))
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(s) == nil {
		j := bytes.TrimSpace(b.Bytes())
		forms = append(forms, string(j[1:len(j)-1]))
	}
	return forms
}

// text returns s with every form of every secret replaced.
func (r redactor) text(s string) string {
	if len(r.forms) == 0 {
		return s
	}
	return r.rep.Replace(s)
}

// message is text for a message that boundMessage may have cut: a secret
// that straddled the cut left a prefix of itself before cutMark, which no
// whole-form replacement finds, so it is replaced too.
func (r redactor) message(s string) string {
	s = r.text(s)
	body, wasCut := strings.CutSuffix(s, cutMark)
	if !wasCut {
		return s
	}
	for _, f := range r.forms {
		for k := len(f) - 1; k > 0; k-- {
			if strings.HasSuffix(body, f[:k]) {
				return body[:len(body)-k] + redactedMark + cutMark
			}
		}
	}
	return s
}

// scrub returns err with every secret removed from everything its Error()
// shows: the *Error's Message and the text of its Err (wrapped so that
// errors.Is and errors.As still reach the sentinels, context errors and
// net.Errors inside). Code is left alone: it is a constant of this package
// or a vendor's integer re-formatted, never vendor text, and callers act on
// it (caihcom's 8306 retry, metrics labels). The *Error is copied, never
// changed in place.
func (r redactor) scrub(err error) error {
	if err == nil || len(r.forms) == 0 {
		return err
	}
	// Every error exchange sees is an *Error made by the transport or a
	// decoder, never wrapped; anything else keeps what it matches and hides
	// what it says.
	e := AsError(err)
	if e == nil {
		return r.cause(err)
	}
	c := *e
	c.Message = r.message(e.Message)
	c.Err = r.cause(e.Err)
	return &c
}

// cause returns err itself when its text shows no secret, else a stand-in
// with the scrubbed text that still matches what err matches.
func (r redactor) cause(err error) error {
	if err == nil {
		return nil
	}
	orig := err.Error()
	if s := r.text(orig); s != orig {
		return &redactedError{text: s, cause: err}
	}
	return err
}

// redactedError shows a scrubbed text and matches like its cause. It has no
// Unwrap, so walking the chain with errors.Unwrap never reaches the
// unscrubbed text; errors.Is and errors.As still see through it.
type redactedError struct {
	text  string
	cause error
}

func (e *redactedError) Error() string        { return e.text }
func (e *redactedError) Is(target error) bool { return errors.Is(e.cause, target) }
func (e *redactedError) As(target any) bool   { return errors.As(e.cause, target) }
