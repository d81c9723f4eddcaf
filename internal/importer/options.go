package importer

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/tasks"
	"github.com/vendorq/vendorq/vendorclient"
)

// Resolve checks the options against the config before anything is read:
// the endpoint exists, Type (defaulted from the vendor's kind: sms for an
// SMS vendor, record for the others) fits it, and a record import's Table
// has the vendor's form (tasks.ValidateTable).
func (o *Options) Resolve(cfg *config.Config) error {
	ep, err := cfg.Endpoint(o.Endpoint)
	if err != nil {
		return err
	}
	takes := typeFor(ep.Kind())
	if o.Type == "" {
		o.Type = takes
	}
	switch {
	case o.Type == TypeSMS && takes != TypeSMS:
		return fmt.Errorf("%w: --type sms: endpoint %s is a %s record endpoint (use --type record)", ErrUsage, ep.Name, ep.Vendor)
	case o.Type == TypeRecord && takes == TypeSMS:
		return fmt.Errorf("%w: --type record: endpoint %s is an SMS endpoint (%s; use --type sms)", ErrUsage, ep.Name, ep.Vendor)
	case o.Type == TypeRecord && strings.TrimSpace(o.Table) == "":
		return fmt.Errorf("%w: --table is required for a record import (%s)", ErrUsage, tableForm(ep))
	case o.Type == TypeRecord:
		if err := tasks.ValidateTable(ep.Vendor, o.Table); err != nil {
			return fmt.Errorf("%w: --%w", ErrUsage, err)
		}
	}
	return nil
}

// typeFor is the task type an endpoint of kind k takes.
func typeFor(k vendorclient.Kind) Type {
	if k == vendorclient.KindSMS {
		return TypeSMS
	}
	return TypeRecord
}

// tableForm says what a record task's table is for ep's vendor.
func tableForm(ep *config.Endpoint) string {
	if d, err := ep.Descriptor(); err == nil && d.TableForm != "" {
		return d.Name + ": " + d.TableForm
	}
	return ep.Vendor
}

// FormatFor returns the format named by flag, or the one the file name's
// extension gives (.csv; .jsonl or .ndjson). Stdin ("-") needs the flag.
func FormatFor(flag, path string) (Format, error) {
	switch strings.ToLower(flag) {
	case "csv":
		return FormatCSV, nil
	case "jsonl", "ndjson":
		return FormatJSONL, nil
	case "":
	default:
		return "", fmt.Errorf("%w: --format must be csv or jsonl, got %q", ErrUsage, flag)
	}
	if path == "-" {
		return "", fmt.Errorf("%w: reading stdin (-) needs --format csv or --format jsonl", ErrUsage)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return FormatCSV, nil
	case ".jsonl", ".ndjson":
		return FormatJSONL, nil
	}
	return "", fmt.Errorf("%w: cannot tell the format of %s from its extension; give --format csv or --format jsonl", ErrUsage, filepath.Base(path))
}
