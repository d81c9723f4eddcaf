package dashboards

import (
	"github.com/hibiken/asynqmon"

	"github.com/vendorq/vendorq/tasks"
)

// MaskPhones is tasks.MaskPhones, the one masking used by every output
// (logs, these pages, `enqueue dlq list`): it hides the middle four digits
// of every mainland mobile number in s, +86 and full-width forms included
// (138****0000). Kept so that dashboard code reads MaskPhones.
func MaskPhones(s string) string { return tasks.MaskPhones(s) }

// maskBytes masks asynqmon's JSON answers (server.go): tasks.MaskPhonesJSON
// keeps them JSON where a phone is a number, and copies nothing when no
// phone is there.
func maskBytes(b []byte) []byte { return tasks.MaskPhonesJSON(b) }

// PayloadFormatter shows task payloads in asynqmon with phones masked.
var PayloadFormatter = asynqmon.PayloadFormatterFunc(func(_ string, payload []byte) string {
	return MaskPhones(asynqmon.DefaultPayloadFormatter.FormatPayload("", payload))
})

// ResultFormatter shows task results in asynqmon with phones masked.
var ResultFormatter = asynqmon.ResultFormatterFunc(func(_ string, result []byte) string {
	return MaskPhones(asynqmon.DefaultResultFormatter.FormatResult("", result))
})
