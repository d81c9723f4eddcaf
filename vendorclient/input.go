package vendorclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Checks on what callers give a client, before anything is sent.

// baseURL returns the configured base URL, or def when none is, once
// checkBaseURL accepts it; the error is the constructor's, naming BaseURL.
func baseURL(vendor, configured, def string) (string, error) {
	if configured == "" {
		configured = def
	}
	if err := checkBaseURL(configured); err != nil {
		return "", configError(vendor, "BaseURL: "+err.Error())
	}
	return configured, nil
}

// checkBaseURL checks a configured base URL. User info is refused because
// it is a credential that would travel in every request and every error
// text; a query or fragment would be silently mangled by path joins.
func checkBaseURL(base string) error {
	u, err := url.Parse(base)
	switch {
	case err != nil:
		return errors.New("not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("scheme must be http or https")
	case u.Host == "":
		return errors.New("no host")
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return errors.New("must not carry a query, fragment or user info")
	}
	return nil
}

// checkName checks one table-name component (app_id, entry_id, model_name).
func checkName(s string) error {
	switch {
	case s == "":
		return errors.New("is empty")
	case len(s) > 256:
		return errors.New("is longer than 256 bytes")
	case !utf8.ValidString(s):
		return errors.New("is not UTF-8")
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return errors.New("contains a control character")
	}
	return nil
}

// compactObject checks that data is one JSON object and returns it compacted.
func compactObject(vendor string, data json.RawMessage) ([]byte, error) {
	t := bytes.TrimSpace(data)
	if len(t) == 0 || t[0] != '{' || !json.Valid(t) {
		return nil, badInput(vendor, "data must be a JSON object")
	}
	var b bytes.Buffer
	if err := json.Compact(&b, t); err != nil {
		return nil, badInput(vendor, "data must be a JSON object")
	}
	return b.Bytes(), nil
}
