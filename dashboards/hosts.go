package dashboards

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// FlagAllowedHosts is the worker flag (and $VENDORQ_DASHBOARD_ALLOWED_HOSTS)
// that extends the Host allowlist; refusals name it.
const FlagAllowedHosts = "--dashboard-allowed-hosts"

// ErrBadAllowedHost: an entry of the Host allowlist has the wrong form.
var ErrBadAllowedHost = errors.New("dashboard: bad allowed host")

// maxHostShown bounds the refused Host echoed in the 421 answer.
const maxHostShown = 100

// Why a Host allowlist: DNS rebinding. A page on attacker.example first
// loads from the attacker's server, then the attacker's DNS answers
// 127.0.0.1 for the same name: the page's scripts now talk to this
// dashboard and read its answers, since for the browser it is all one
// origin (attacker.example:8080). Only the Host header gives it away (it
// names the attacker's domain), so every page, asynqmon's UI and API
// included, is refused unless Host is a name the operator chose.
//
// Ports are not compared for loopback names and for entries given without
// one: the browser sends the port of the URL it was given, so a rebinding
// page always shows its own name, whatever the port; and an ssh tunnel or a
// port mapping (compose.yaml publishes 127.0.0.1:8080) legitimately shows
// another port than the one the dashboard listens on.
type hostPolicy struct {
	anyPort map[string]bool // host names and IPs, any port
	exact   map[string]bool // host:port as the browser sends it
}

// ParseAllowedHosts splits a comma-separated --dashboard-allowed-hosts
// value into entries (HOST, HOST:PORT, [IPv6] or [IPv6]:PORT), checking
// each. Empty items are skipped.
func ParseAllowedHosts(list string) ([]string, error) {
	var out []string
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if _, _, err := splitAllowedHost(item); err != nil {
			return nil, err
		}
		out = append(out, item)
	}
	return out, nil
}

// splitAllowedHost normalises one allowlist entry into its host and port
// ("" = any port).
func splitAllowedHost(entry string) (host, port string, err error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: %s entry %q: %s; want HOST or HOST:PORT such as vendorq.example.com or 10.0.0.5:8080",
			ErrBadAllowedHost, FlagAllowedHosts, entry, why)
	}
	if strings.ContainsAny(entry, "/*@ \t") {
		return "", "", bad("no scheme, path, user or wildcard")
	}
	host, port = splitHost(entry)
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", "", bad("the port is not a number from 1 to 65535")
		}
	}
	if net.ParseIP(host) == nil && !validHostName(host) {
		return "", "", bad("not a host name or IP address")
	}
	return host, port, nil
}

// splitHost splits a Host header value into a normalised host (lower
// case, no brackets, no trailing dot) and its port ("" when absent).
func splitHost(hostport string) (host, port string) {
	host = hostport
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		host, port = h, p
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	return host, port
}

func validHostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, r := range h {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' && r != '.' && r != '_' {
			return false
		}
	}
	return true
}

// newHostPolicy allows loopback names, the configured entries and the
// host of bind (the --dashboard address) when it names one specific
// machine rather than every interface.
func newHostPolicy(bind string, allowed []string) (hostPolicy, error) {
	p := hostPolicy{anyPort: map[string]bool{}, exact: map[string]bool{}}
	for _, e := range allowed {
		host, port, err := splitAllowedHost(e)
		if err != nil {
			return p, err
		}
		if port == "" {
			p.anyPort[host] = true
		} else {
			p.exact[net.JoinHostPort(host, port)] = true
		}
	}
	if h, _, err := net.SplitHostPort(bind); err == nil && h != "" {
		if ip := net.ParseIP(h); ip == nil || !ip.IsUnspecified() {
			host, _ := splitHost(h)
			p.anyPort[host] = true
		}
	}
	return p, nil
}

// allows reports whether a request's Host names this dashboard.
func (p hostPolicy) allows(hostport string) bool {
	host, port := splitHost(hostport)
	switch {
	case host == "":
		return false
	case host == "localhost", p.anyPort[host]:
		return true
	case port != "" && p.exact[net.JoinHostPort(host, port)]:
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// guard refuses requests whose Host is not allowed with 421 Misdirected
// Request. A request with the valid bearer token passes whatever its Host:
// a browser never attaches a bearer token by itself, so a rebinding page
// cannot send one it does not know, while Prometheus in compose.yaml
// scrapes worker:8080 with it.
func (p hostPolicy) guard(c Credentials, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.allows(r.Host) || c.bearerOK(r) {
			h.ServeHTTP(w, r)
			return
		}
		shown := r.Host
		if len(shown) > maxHostShown {
			shown = shown[:maxHostShown] + "…"
		}
		http.Error(w, fmt.Sprintf("421 misdirected request: this dashboard does not answer to Host %q "+
			"(a guard against DNS rebinding). If you reach it through a reverse proxy or another name, "+
			"add that name to %s (or $VENDORQ_DASHBOARD_ALLOWED_HOSTS) of the worker.", shown, FlagAllowedHosts),
			http.StatusMisdirectedRequest)
	})
}
