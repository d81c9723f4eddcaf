package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// readBatch reads a batch body, {"items":[...]}, from body as a stream and
// calls each(i, raw) for its first maxItems items in order. raw is the
// item's JSON, valid only during the call: one buffer serves every item, so
// a 16 MiB body is never held whole, nor copied item by item (the prepared
// tasks are what a batch keeps).
//
// What is wrong with the envelope (not an object, no items, an unknown
// field, 0 or more than maxItems items, malformed JSON, trailing data)
// comes back as a *FieldError that says where in the body the fault is;
// an error reading body (*http.MaxBytesError over the limit) comes
// back as it is.
func readBatch(body io.Reader, maxItems int, each func(i int, raw []byte)) error {
	dec := json.NewDecoder(body)
	tok, err := dec.Token()
	switch {
	case errors.Is(err, io.EOF):
		return &FieldError{Field: "body", Reason: "is empty; want a JSON object"}
	case err != nil:
		return envelopeError(err, at(dec))
	case tok != json.Delim('{'):
		return &FieldError{Field: "body", Reason: "must be a JSON object, got " + tokenKind(tok)}
	}
	seen := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return envelopeError(err, at(dec))
		}
		// encoding/json matches member names without regard to case:
		// so does this, as the single-task routes do.
		switch name, _ := tok.(string); {
		case !strings.EqualFold(name, "items"):
			return &FieldError{Field: name, Reason: "unknown field (known: items)"}
		case seen:
			return &FieldError{Field: "items", Reason: "appears twice"}
		}
		seen = true
		if err := readItems(dec, maxItems, each); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return envelopeError(err, at(dec))
	}
	if !seen {
		return &FieldError{Field: "items", Reason: itemsRequired}
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil && !jsonError(err) {
			return err
		}
		return &FieldError{Field: "body", Reason: fmt.Sprintf("unexpected data after the JSON value, which ends at byte offset %d", end)}
	}
	return nil
}

const itemsRequired = `is required: an array of {"type": "record"|"sms", "task": {...}}`

// readItems reads the value of "items".
func readItems(dec *json.Decoder, maxItems int, each func(i int, raw []byte)) error {
	tok, err := dec.Token()
	switch {
	case err != nil:
		return envelopeError(err, at(dec))
	case tok == nil:
		return &FieldError{Field: "items", Reason: itemsRequired}
	case tok != json.Delim('['):
		return &FieldError{Field: "items", Reason: `must be an array of {"type", "task"} objects, got ` + tokenKind(tok)}
	}
	var raw json.RawMessage // reused: RawMessage.UnmarshalJSON appends into it
	n := 0
	for ; dec.More(); n++ {
		if err := dec.Decode(&raw); err != nil {
			// InputOffset stays where the item starts.
			return envelopeError(err, fmt.Sprintf("in items[%d], which starts at byte offset %d", n, dec.InputOffset()))
		}
		if n < maxItems {
			each(n, raw)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing bracket
		return envelopeError(err, at(dec))
	}
	switch {
	case n == 0:
		return &FieldError{Field: "items", Reason: "is empty"}
	case n > maxItems:
		return &FieldError{Field: "items", Reason: fmt.Sprintf("at most %d tasks per batch, got %d", maxItems, n)}
	}
	return nil
}

// envelopeError turns a decoder error into the body's field error (where
// says where it is), or returns it as is when reading the body failed.
func envelopeError(err error, where string) error {
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		// Not syn.Offset: a Decoder's offsets add up the bytes of every
		// value it scanned, tokens included, not a position in the body.
		return &FieldError{Field: "body", Reason: fmt.Sprintf("malformed JSON: %v %s", syn, where)}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &FieldError{Field: "body", Reason: "malformed JSON: truncated, the body ends inside the JSON value"}
	}
	return err
}

// at is where dec stopped: after an error of Token, the byte at fault.
func at(dec *json.Decoder) string { return fmt.Sprintf("at byte offset %d", dec.InputOffset()) }

// jsonError reports whether err is about the JSON rather than reading it.
func jsonError(err error) bool {
	var syn *json.SyntaxError
	return errors.As(err, &syn) || errors.Is(err, io.ErrUnexpectedEOF)
}

// tokenKind names the JSON kind of a json.Decoder token.
func tokenKind(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return "array"
		}
		return "object"
	case string:
		return "string"
	case bool:
		return "true or false"
	case nil:
		return "null"
	}
	return "number"
}
