package tasks

import (
	"regexp"
	"strings"
)

var (
	yesapiModelRe = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)
	dhgjPathRe    = regexp.MustCompile(`^/?[A-Za-z0-9._~!$&'()*+,;=:@%/-]+$`)
)

// ValidateTable checks the table form the endpoint's vendor expects
// (SPEC §3.2): app_id/entry_id for baibaoyun, a model_name for yesapi, an
// API path for dhgjcloud. Unknown vendors pass (the config rejects them).
func ValidateTable(vendor, table string) error {
	switch vendor {
	case "baibaoyun":
		app, entry, ok := strings.Cut(table, "/")
		if !ok || app == "" || entry == "" || strings.Contains(entry, "/") || strings.ContainsAny(table, " ?#") {
			return invalid("table", "baibaoyun wants APP_ID/ENTRY_ID, got %q", table)
		}
	case "yesapi":
		if !yesapiModelRe.MatchString(table) {
			return invalid("table", "yesapi wants a model_name of letters, digits and _, got %q", table)
		}
	case "dhgjcloud":
		if !dhgjPathRe.MatchString(table) || strings.Contains(table, "..") {
			return invalid("table", "dhgjcloud wants an API path like /api/records, got %q", table)
		}
	case "caihcom":
		return invalid("endpoint", "is an SMS endpoint (caihcom); record:create needs a form/table vendor")
	}
	return nil
}
