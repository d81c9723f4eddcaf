package dashboards

import (
	"cmp"
	"net/url"
	"strconv"
	"strings"

	"github.com/vendorq/vendorq/tasks"
	"github.com/vendorq/vendorq/vendorclient"
)

// dlqForm is the dead-letter view's filter form, read from the query of
// GET /dlq or from the body of a POST action; it writes itself back into
// links (pages, a code's count) so that every page keeps the filter.
type dlqForm struct {
	Endpoint, Code, Class, Type, Since, Until, Grep string
	After, Trail                                    string // the page's cursor; the cursors of the pages before it
}

// The form's choices.
var (
	dlqClasses = func() []string {
		var out []string
		for c := vendorclient.ClassOK; c <= vendorclient.ClassPermanent; c++ {
			out = append(out, c.String())
		}
		return out
	}()
	dlqTypes = []string{tasks.TypeRecordCreate, tasks.TypeSMSSend}
)

// maxTrail bounds the previous-page cursors a link carries; beyond it the
// oldest are dropped (Prev then leads back to the first page sooner).
const maxTrail = 50

func formFrom(q url.Values) dlqForm {
	g := func(k string) string { return strings.TrimSpace(q.Get(k)) }
	return dlqForm{Endpoint: g("endpoint"), Code: g("code"), Class: g("class"), Type: g("type"),
		Since: g("since"), Until: g("until"), Grep: g("grep"), After: g("after"), Trail: g("trail")}
}

// filter is the store's filter; codes are comma-separated in the form.
func (f dlqForm) filter() DeadLetterFilter {
	var codes []string
	for _, c := range strings.Split(f.Code, ",") {
		if c = strings.TrimSpace(c); c != "" {
			codes = append(codes, c)
		}
	}
	return DeadLetterFilter{Endpoint: f.Endpoint, Codes: codes, Class: f.Class, Type: f.Type, Since: f.Since, Until: f.Until, Grep: f.Grep}
}

// Filtered reports whether the form narrows anything (besides paging).
func (f dlqForm) Filtered() bool {
	return f.Endpoint != "" || f.Code != "" || f.Class != "" || f.Type != "" || f.Since != "" || f.Until != "" || f.Grep != ""
}

// values is the filter as query parameters (without paging).
func (f dlqForm) values() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"endpoint": f.Endpoint, "code": f.Code, "class": f.Class, "type": f.Type, "since": f.Since, "until": f.Until, "grep": f.Grep} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// with is the form with one field changed, back on the first page.
func (f dlqForm) with(field, v string) dlqForm {
	switch field {
	case "code":
		f.Code = v
	case "endpoint":
		f.Endpoint = v
	}
	f.After, f.Trail = "", ""
	return f
}

func (f dlqForm) query() string { return "/dlq?" + f.values().Encode() }

// trail is the cursors of the pages before this one ("" = the first page,
// written firstPage in a link).
func (f dlqForm) trail() []string {
	if f.Trail == "" {
		return nil
	}
	out := strings.Split(f.Trail, ".")
	for i, c := range out {
		if c == firstPage {
			out[i] = ""
		}
	}
	return out
}

// firstPage stands for the first page's (empty) cursor in a trail; a
// cursor is base64url, which has no "~".
const firstPage = "~"

// page is the link of the page at cursor after, with trail before it.
// Cursors are base64url, so "." separates them.
func (f dlqForm) page(after string, trail []string, limit int) string {
	if len(trail) > maxTrail {
		trail = trail[len(trail)-maxTrail:]
	}
	q := f.values()
	if after != "" {
		q.Set("after", after)
	}
	if len(trail) > 0 {
		written := make([]string, len(trail))
		for i, c := range trail {
			written[i] = cmp.Or(c, firstPage)
		}
		q.Set("trail", strings.Join(written, "."))
	}
	if limit != defaultDLQLimit {
		q.Set("limit", strconv.Itoa(limit))
	}
	return "/dlq?" + q.Encode()
}
