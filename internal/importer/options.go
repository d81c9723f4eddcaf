package importer

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/tasks"
)

// Resolve checks the options against the config before anything is read:
// the endpoint exists, Type (defaulted from the vendor: caihcom → sms,
// others → record) fits it, and a record import's Table has the vendor's
// form (tasks.ValidateTable).
func (o *Options) Resolve(cfg *config.Config) error {
	ep, err := cfg.Endpoint(o.Endpoint)
	if err != nil {
		return err
	}
	if o.Type == "" {
		o.Type = TypeRecord
		if ep.IsSMS() {
			o.Type = TypeSMS
		}
	}
	switch {
	case o.Type == TypeSMS && !ep.IsSMS():
		return fmt.Errorf("%w: --type sms: endpoint %s is a %s record endpoint (use --type record)", ErrUsage, ep.Name, ep.Vendor)
	case o.Type == TypeRecord && ep.IsSMS():
		return fmt.Errorf("%w: --type record: endpoint %s is an SMS endpoint (caihcom; use --type sms)", ErrUsage, ep.Name)
	case o.Type == TypeRecord && strings.TrimSpace(o.Table) == "":
		return fmt.Errorf("%w: --table is required for a record import (%s)", ErrUsage, tableForm(ep.Vendor))
	case o.Type == TypeRecord:
		if err := tasks.ValidateTable(ep.Vendor, o.Table); err != nil {
			return fmt.Errorf("%w: --%w", ErrUsage, err)
		}
	}
	return nil
}

func tableForm(vendor string) string {
	switch vendor {
	case "baibaoyun":
		return "baibaoyun: APP_ID/ENTRY_ID"
	case "yesapi":
		return "yesapi: a model_name"
	case "dhgjcloud":
		return "dhgjcloud: an API path"
	}
	return vendor
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
