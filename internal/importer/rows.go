package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/tasks"
)

// Row → task mapping. Every mapper ends in the task constructors of package
// tasks, so an imported row passes exactly the checks a single
// `enqueue record|sms` would (including the payload size limit). The
// canonical content hashed into DefaultKey is:
//
//	record: the data object as sent (CSV: built in header order; JSONL: the
//	        line's object with insignificant space removed)
//	sms:    the phones joined by ",", content, sign, subcode, sendtime

// errBadUTF8 marks a row whose bytes are not UTF-8: its reject line also
// carries the exact bytes in base64.
var errBadUTF8 = errors.New("not valid UTF-8")

// smsColumns are the CSV columns (and JSONL fields) of an sms import.
var smsColumns = []string{"phones", "content", "sign", "subcode", "sendtime"}

// splitPhones splits a phones cell. In CSV "," already separates columns, so
// a cell lists phones separated by ";", "|" or spaces (a quoted cell may
// also use ",").
func splitPhones(cell string) []string {
	return strings.FieldsFunc(cell, func(r rune) bool {
		return r == ';' || r == '|' || r == ',' || unicode.IsSpace(r)
	})
}

// lane is the lane and the extra asynq options (a hold time) every row's
// task gets: Options.Priority and Options.Hold. The lane is no part of a
// row's DefaultKey: the same row imported again with another --priority is
// the same task (the producer finds it on any lane).
type lane struct {
	priority tasks.Priority
	opts     []asynq.Option
	batch    *tasks.BatchRef // the batch and line of the row being mapped (track.go); nil = none
}

func laneOf(o *Options) lane { return lane{priority: o.Priority, opts: o.Hold, batch: o.row} }

// smsItem builds an sms:send task; key "" means DefaultKey.
func smsItem(k *keyer, endpoint string, s tasks.SMSSend, key string, ln lane) (producer.Item, error) {
	if key == "" {
		k.start(endpoint, TypeSMS, "")
		k.addString(strings.Join(s.Phones, ","))
		for _, v := range []string{s.Content, s.Sign, s.Subcode, s.Sendtime} {
			k.addString(v)
		}
		key = k.sum()
	}
	s.Endpoint, s.Key, s.Priority = endpoint, key, ln.priority
	if ln.batch != nil {
		s.BatchRef = *ln.batch
	}
	t, err := tasks.NewSMSSendTask(s, ln.opts...)
	return item(t, endpoint, key, err)
}

// recordItem builds a record:create task from a compact data object.
func recordItem(k *keyer, endpoint, table string, data []byte, key string, ln lane) (producer.Item, error) {
	if key == "" {
		k.start(endpoint, TypeRecord, table)
		k.addBytes(data)
		key = k.sum()
	}
	rc := tasks.RecordCreate{Endpoint: endpoint, Table: table, Data: data, Key: key, Priority: ln.priority}
	if ln.batch != nil {
		rc.BatchRef = *ln.batch
	}
	t, err := tasks.NewRecordCreateTask(rc, ln.opts...)
	return item(t, endpoint, key, err)
}

func item(t *asynq.Task, endpoint, key string, err error) (producer.Item, error) {
	if err != nil {
		return producer.Item{}, err
	}
	return producer.Item{Task: t, Endpoint: endpoint, Key: key}, nil
}

// ---- CSV ----

// csvMapper turns one CSV record (already the header's width) into an item.
type csvMapper interface {
	item(fields []string) (producer.Item, error)
}

// newCSVMapper checks the header against the import's type and key column.
func newCSVMapper(header []string, o *Options) (csvMapper, error) {
	idx := make(map[string]int, len(header))
	for i, h := range header {
		switch {
		case !utf8.ValidString(h):
			return nil, fmt.Errorf("%w: header column %d is not valid UTF-8", ErrInput, i+1)
		case h == "":
			return nil, fmt.Errorf("%w: header column %d has no name", ErrInput, i+1)
		}
		if _, dup := idx[h]; dup {
			return nil, fmt.Errorf("%w: header names column %q twice", ErrInput, h)
		}
		idx[h] = i
	}
	keyIdx := -1
	if o.KeyColumn != "" {
		i, ok := idx[o.KeyColumn]
		if !ok {
			return nil, fmt.Errorf("%w: --key-column %q is not in the header (%s)", ErrInput, o.KeyColumn, strings.Join(header, ","))
		}
		keyIdx = i
	}
	if o.Type == TypeRecord {
		m := &recordCSV{endpoint: o.Endpoint, table: o.Table, header: header, keyIdx: keyIdx, lane: laneOf(o)}
		for _, h := range header {
			name, _ := json.Marshal(h)
			m.names = append(m.names, append(name, ':'))
		}
		return m, nil
	}
	m := &smsCSV{endpoint: o.Endpoint, keyIdx: keyIdx, header: header, lane: laneOf(o)}
	for i := range m.col {
		m.col[i] = -1
	}
	known := map[string]int{}
	for i, c := range smsColumns {
		known[c] = i
	}
	for i, h := range header {
		if c, ok := known[h]; ok {
			m.col[c] = i
		} else if i != keyIdx {
			return nil, fmt.Errorf("%w: unknown column %q for an sms import (columns: %s, and the --key-column)", ErrInput, h, strings.Join(smsColumns, ", "))
		}
	}
	for _, req := range []int{0, 1} { // phones, content
		if m.col[req] < 0 {
			return nil, fmt.Errorf("%w: an sms import needs a %q column (columns: %s)", ErrInput, smsColumns[req], strings.Join(smsColumns, ", "))
		}
	}
	return m, nil
}

func checkUTF8(header, fields []string) error {
	for i, f := range fields {
		if !utf8.ValidString(f) {
			return fmt.Errorf("column %q: %w", header[i], errBadUTF8)
		}
	}
	return nil
}

func keyCell(fields []string, keyIdx int, name string) (string, error) {
	if keyIdx < 0 {
		return "", nil
	}
	k := strings.TrimSpace(fields[keyIdx])
	if k == "" {
		return "", fmt.Errorf("key column %q is empty", name)
	}
	return k, nil
}

// recordCSV makes every column a string field of the data object.
type recordCSV struct {
	endpoint, table string
	header          []string
	names           [][]byte // `"name":` per column
	keyIdx          int
	data            []byte // scratch: the object is copied into the payload
	k               keyer
	lane            lane
}

func (m *recordCSV) item(fields []string) (producer.Item, error) {
	if err := checkUTF8(m.header, fields); err != nil {
		return producer.Item{}, err
	}
	key, err := keyCell(fields, m.keyIdx, m.keyName())
	if err != nil {
		return producer.Item{}, err
	}
	d := append(m.data[:0], '{')
	for i, f := range fields {
		if i > 0 {
			d = append(d, ',')
		}
		d = append(d, m.names[i]...)
		d = appendJSONString(d, f)
	}
	d = append(d, '}')
	m.data = d
	return recordItem(&m.k, m.endpoint, m.table, d, key, m.lane)
}

func (m *recordCSV) keyName() string {
	if m.keyIdx < 0 {
		return ""
	}
	return m.header[m.keyIdx]
}

// smsCSV maps the phones, content, sign, subcode and sendtime columns.
type smsCSV struct {
	endpoint string
	col      [5]int // index of each of smsColumns, -1 = absent
	keyIdx   int
	header   []string
	k        keyer
	lane     lane
}

func (m *smsCSV) item(fields []string) (producer.Item, error) {
	if err := checkUTF8(m.header, fields); err != nil {
		return producer.Item{}, err
	}
	key, err := keyCell(fields, m.keyIdx, m.keyName())
	if err != nil {
		return producer.Item{}, err
	}
	cell := func(c int) string {
		if m.col[c] < 0 {
			return ""
		}
		return fields[m.col[c]]
	}
	s := tasks.SMSSend{Phones: splitPhones(cell(0)), Content: cell(1), Sign: cell(2), Subcode: cell(3), Sendtime: cell(4)}
	return smsItem(&m.k, m.endpoint, s, key, m.lane)
}

func (m *smsCSV) keyName() string {
	if m.keyIdx < 0 {
		return ""
	}
	return m.header[m.keyIdx]
}

// appendJSONString appends s as a JSON string (s is valid UTF-8). It escapes
// what JSON requires plus U+2028/U+2029; encoding/json re-escapes <, > and &
// when the payload is marshalled.
func appendJSONString(d []byte, s string) []byte {
	const hex = "0123456789abcdef"
	d = append(d, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			d = append(d, s[start:i]...)
			switch c {
			case '"', '\\':
				d = append(d, '\\', c)
			case '\n':
				d = append(d, '\\', 'n')
			case '\r':
				d = append(d, '\\', 'r')
			case '\t':
				d = append(d, '\\', 't')
			default:
				d = append(d, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '\u2028' || r == '\u2029' {
			d = append(d, s[start:i]...)
			d = append(d, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	d = append(d, s[start:]...)
	return append(d, '"')
}

// ---- JSONL ----

// lineMapper turns one JSONL line (without its newline) into an item.
type lineMapper interface {
	item(line []byte) (producer.Item, error)
}

func newLineMapper(o *Options) lineMapper {
	if o.Type == TypeRecord {
		return &recordJSONL{endpoint: o.Endpoint, table: o.Table, keyField: o.KeyColumn, lane: laneOf(o)}
	}
	return &smsJSONL{endpoint: o.Endpoint, keyField: o.KeyColumn, lane: laneOf(o)}
}

// jsonError words a decoding error with the byte it happened at.
func jsonError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at byte %d: %w", se.Offset, se)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field == "" {
		return fmt.Errorf("must be a JSON object, got %s", te.Value)
	}
	return fmt.Errorf("invalid JSON: %w", err)
}

// keyValue reads the key field of an object: a non-empty string or a number.
func keyValue(obj map[string]json.RawMessage, field string) (string, error) {
	raw, ok := obj[field]
	if !ok {
		return "", fmt.Errorf("key field %q is missing", field)
	}
	raw = bytes.TrimSpace(raw)
	var key string
	switch {
	case len(raw) > 0 && raw[0] == '"':
		if err := json.Unmarshal(raw, &key); err != nil {
			return "", jsonError(err)
		}
	case len(raw) > 0 && (raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')):
		key = string(raw)
	default:
		return "", fmt.Errorf("key field %q must be a string or a number, got %s", field, raw)
	}
	if key = strings.TrimSpace(key); key == "" {
		return "", fmt.Errorf("key field %q is empty", field)
	}
	return key, nil
}

// recordJSONL: each line is the data object itself.
type recordJSONL struct {
	endpoint, table, keyField string
	buf                       bytes.Buffer
	k                         keyer
	lane                      lane
}

func (m *recordJSONL) item(line []byte) (producer.Item, error) {
	if !utf8.Valid(line) {
		return producer.Item{}, errBadUTF8
	}
	m.buf.Reset()
	if err := json.Compact(&m.buf, line); err != nil {
		return producer.Item{}, jsonError(err)
	}
	data := m.buf.Bytes()
	if data[0] != '{' {
		return producer.Item{}, fmt.Errorf("must be a JSON object (the record's data), got %.20s", data)
	}
	var key string
	if m.keyField != "" {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(data, &obj); err != nil {
			return producer.Item{}, jsonError(err)
		}
		k, err := keyValue(obj, m.keyField)
		if err != nil {
			return producer.Item{}, err
		}
		key = k
	}
	return recordItem(&m.k, m.endpoint, m.table, data, key, m.lane)
}

// smsJSONL: each line is an sms:send payload without the endpoint.
type smsJSONL struct {
	endpoint, keyField string
	k                  keyer
	lane               lane
}

func (m *smsJSONL) item(line []byte) (producer.Item, error) {
	if !utf8.Valid(line) {
		return producer.Item{}, errBadUTF8
	}
	if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '{' {
		if !json.Valid(t) {
			return producer.Item{}, jsonError(json.Unmarshal(t, new(any)))
		}
		return producer.Item{}, fmt.Errorf("must be a JSON object (an sms payload), got %.20s", t)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil {
		return producer.Item{}, jsonError(err)
	}
	var s tasks.SMSSend
	var key string
	for name, raw := range obj {
		var err error
		switch name {
		case "phones":
			s.Phones, err = decodePhones(raw)
		case "content":
			err = decodeString(raw, &s.Content)
		case "sign":
			err = decodeString(raw, &s.Sign)
		case "subcode":
			err = decodeString(raw, &s.Subcode)
		case "sendtime":
			err = decodeString(raw, &s.Sendtime)
		case "key":
			if m.keyField == "" {
				err = decodeString(raw, &key)
			}
		case "endpoint":
			return producer.Item{}, errors.New(`field "endpoint": the endpoint comes from --endpoint; leave it out of the rows`)
		default:
			if name != m.keyField || name == "" {
				return producer.Item{}, fmt.Errorf("unknown field %q (fields: %s, key)", name, strings.Join(smsColumns, ", "))
			}
		}
		if err != nil {
			return producer.Item{}, fmt.Errorf("field %q: %w", name, err)
		}
	}
	if m.keyField != "" {
		k, err := keyValue(obj, m.keyField)
		if err != nil {
			return producer.Item{}, err
		}
		key = k
	}
	return smsItem(&m.k, m.endpoint, s, strings.TrimSpace(key), m.lane)
}

// decodeString accepts a JSON string or null ("").
func decodeString(raw json.RawMessage, dst *string) error {
	if err := json.Unmarshal(raw, dst); err != nil {
		return errors.New("must be a string")
	}
	return nil
}

// decodePhones accepts an array of strings or one string of phones
// separated like a CSV cell.
func decodePhones(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return splitPhones(s), nil
	}
	var p []string
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, errors.New("must be an array of strings or one string")
	}
	for i := range p {
		p[i] = strings.TrimSpace(p[i])
	}
	return p, nil
}
