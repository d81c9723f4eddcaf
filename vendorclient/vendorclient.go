// Package vendorclient holds one client per vendor API (baibaoyun, yesapi,
// dhgjcloud, caihcom). Each client signs and encodes requests exactly as the
// vendor documents, and maps every answer to one Class of docs/vendors.md "What every outcome means", carried
// by *Error so that the worker can decide between done, wait, retry and
// dead-letter without knowing any vendor's codes.
//
// The four clients share one transport (transport.go): the HTTP exchange,
// the answer size cap, the per-call timeout, the refusal of redirects and the
// scrubbing of credentials out of every error live there once. Each vendor's
// file holds only that vendor's protocol: how to build its request and how
// to read its answer.
package vendorclient

import (
	"context"
	"encoding/json"
	"time"
)

// Vendor names, as used in config (`vendor:`), logs, metrics and *Error.Vendor.
const (
	VendorBaibaoyun = "baibaoyun"
	VendorYesapi    = "yesapi"
	VendorDhgjcloud = "dhgjcloud"
	VendorCaihcom   = "caihcom"
)

// DefaultTimeout bounds one HTTP exchange when the endpoint sets none.
const DefaultTimeout = 15 * time.Second

// RecordCreator creates one record (baibaoyun, yesapi, dhgjcloud).
// table is the vendor's table form (README "Producing tasks"); data is a JSON object.
// A nil error means the record exists; RecordResult.Warning is set when the
// vendor accepted the record but reported a problem (baibaoyun 4010).
type RecordCreator interface {
	CreateRecord(ctx context.Context, table string, data json.RawMessage) (RecordResult, error)
}

// RecordResult is a successful create.
type RecordResult struct {
	ID      string // the vendor's record id when it returns one
	Warning string // accepted with a warning (baibaoyun 4010: record exists, backend code failed)
}

// redacted returns r with credentials scrubbed from Warning, which quotes
// the vendor's message and goes to the logs (see exchange).
func (r RecordResult) redacted(rd func() redactor) RecordResult {
	if r.Warning != "" {
		r.Warning = rd().message(r.Warning)
	}
	return r
}
