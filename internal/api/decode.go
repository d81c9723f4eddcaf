package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/vendorq/vendorq/internal/jsonpos"
	"github.com/vendorq/vendorq/tasks"
)

// readBody reads the whole body, at most limit bytes, into a buffer sized
// from Content-Length when there is one (io.ReadAll would grow its buffer
// by copying, holding up to twice the body); over limit the answer is 413
// (and ok false).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	var buf bytes.Buffer
	if 0 <= r.ContentLength && r.ContentLength <= limit {
		buf.Grow(int(r.ContentLength) + bytes.MinRead) // MinRead: ReadFrom's room to see EOF
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit)); err != nil {
		writeBodyError(w, err, limit)
		return nil, false
	}
	return buf.Bytes(), true
}

// writeBodyError answers an error reading a request body: 413 over the
// route's limit, 400 otherwise.
func writeBodyError(w http.ResponseWriter, err error, limit int64) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeErrors(w, http.StatusRequestEntityTooLarge, FieldError{Field: "body", Reason: fmt.Sprintf("over the %d-byte limit of this route", limit)})
		return
	}
	writeErrors(w, http.StatusBadRequest, FieldError{Field: "body", Reason: "could not read the request body: " + err.Error()})
}

// decodeStrict decodes exactly one JSON value into v, refusing unknown
// fields, trailing data and text that breaks the UTF-8 rule of tasks
// (checked on b itself: decoding has replaced bad bytes and lone surrogate
// escapes by U+FFFD), and turns every error into a field error that says
// where (line, column) the problem is. prefix is put in front of field
// names ("" for a single task).
func decodeStrict(b []byte, v any, prefix string) *FieldError {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		end := dec.InputOffset()
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			rest := bytes.TrimLeft(b[min(end, int64(len(b))):], " \t\r\n")
			return &FieldError{Field: pathOr(prefix, "body"), Reason: "unexpected data after the JSON value " + where(b, int64(len(b)-len(rest)))}
		}
		if path, reason, bad := tasks.BadJSONText(b); bad {
			return &FieldError{Field: pathOr(join(prefix, path), "body"), Reason: reason}
		}
		return nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return &FieldError{Field: pathOr(prefix, "body"), Reason: "is empty; want a JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &FieldError{Field: pathOr(prefix, "body"), Reason: "malformed JSON: truncated, input ends " + where(b, int64(len(b)))}
	case errors.As(err, &syn):
		return &FieldError{Field: pathOr(prefix, "body"), Reason: fmt.Sprintf("malformed JSON: %v %s", syn, where(b, syn.Offset-1))}
	case errors.As(err, &typ):
		field := join(prefix, jsonPath(v, typ.Field))
		if typ.Field == "" {
			field = pathOr(prefix, "body")
		}
		return &FieldError{Field: field, Reason: fmt.Sprintf("must be %s, got %s (the value ends %s)", jsonKind(typ.Type), typ.Value, where(b, typ.Offset-1))}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return &FieldError{Field: join(prefix, name), Reason: fmt.Sprintf("unknown field (known: %s)", knownFields(v))}
	}
	return &FieldError{Field: pathOr(prefix, "body"), Reason: "malformed JSON: " + err.Error()}
}

// where renders the position of the byte at index pos (0-based) as
// "at line L, column C (byte offset N)" (shared with enqueue --data).
func where(b []byte, pos int64) string { return jsonpos.Where(b, pos) }

func join(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	}
	return prefix + "." + field
}

func pathOr(prefix, def string) string {
	if prefix != "" {
		return prefix
	}
	return def
}

// jsonKind names a Go type the way a JSON client thinks of it.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(jsonKind(t.Elem()), "a "), "an ") + "s"
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	}
	return t.String()
}

// knownFields lists the JSON names of v's struct fields, those of its
// embedded structs included (a request body embeds a tasks payload).
func knownFields(v any) string {
	names := jsonNames(structType(reflect.TypeOf(v)))
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func structType(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	return t
}

func jsonNames(t reflect.Type) []string {
	if t == nil {
		return nil
	}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case f.Anonymous && name == "":
			names = append(names, jsonNames(structType(f.Type))...)
		case name != "" && name != "-":
			names = append(names, name)
		}
	}
	return names
}

// jsonPath removes from an UnmarshalTypeError's field path the Go names
// of the structs embedded in v ("RecordCreate.data" is "data" in JSON).
func jsonPath(v any, field string) string {
	t := structType(reflect.TypeOf(v))
	for t != nil {
		next := reflect.Type(nil)
		for i := range t.NumField() {
			f := t.Field(i)
			if rest, ok := strings.CutPrefix(field, f.Name+"."); ok && f.Anonymous && f.Tag.Get("json") == "" {
				field, next = rest, structType(f.Type)
				break
			}
		}
		t = next
	}
	return field
}
