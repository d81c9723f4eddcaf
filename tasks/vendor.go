package tasks

import (
	"errors"

	"github.com/vendorq/vendorq/vendorclient"
)

// ValidateTable checks that table has the form the endpoint's vendor
// expects: the rule is the vendor's descriptor (Descriptor.ValidateTable in
// the vendor's own file in vendorclient). An SMS vendor takes no record:create at all.
// Unknown vendors pass: the config rejects them.
func ValidateTable(vendor, table string) error {
	d, err := vendorclient.Lookup(vendor)
	switch {
	case errors.Is(err, vendorclient.ErrUnknownVendor):
		return nil
	case d.Kind == vendorclient.KindSMS:
		return invalid("endpoint", "is an SMS endpoint (%s); record:create needs a form/table vendor", vendor)
	}
	if err := d.CheckTable(table); err != nil {
		return invalid("table", "%s %v", vendor, err)
	}
	return nil
}
