package redisconn

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// Passwords distinctive enough that no error text holds one of their
// 4-byte pieces by chance.
const (
	pw  = "Qx7K9vW"
	spw = "Zq8J4wT"
)

// leaks reports the secret, or piece of one, that text holds.
func leaks(text string, secrets ...string) string {
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if strings.Contains(text, s) {
			return s
		}
		if d, err := url.PathUnescape(s); err == nil && d != "" && strings.Contains(text, d) {
			return d
		}
		for i := 0; i+4 <= len(s); i++ {
			if strings.Contains(text, s[i:i+4]) {
				return s[i : i+4]
			}
		}
	}
	return ""
}

// Every malformed URL is refused with an error (and a Redacted form) that
// holds no piece of either password.
func TestParseErrorsHidePasswords(t *testing.T) {
	for _, tc := range []struct{ url, pass, spass string }{
		// One server.
		{"redis://:Qx7%zzK9vW@host:6379/0", "Qx7%zzK9vW", ""},
		{"redis://:Qx%7K9vW@host:6379/0", "Qx%7K9vW", ""},
		{"redis://Us%zzEr:" + pw + "@host/0", pw, ""},
		{"redis://:" + pw + "@ho%zzst:6379/0", pw, ""},
		{"redis://:" + pw + "@ho st:6379/0", pw, ""},
		{"redis://:" + pw + "@host:abc/0", pw, ""},
		{"redis://:" + pw + "@host:6379/abc", pw, ""},
		{"redis://:" + pw + "@host:6379/%zz", pw, ""},
		{"redis://:" + pw + "@host/0?nope=1", pw, ""},
		{"redis://:" + pw + "@host/0?dial_timeout=xyz", pw, ""},
		{"rediss://:" + pw + "@host:99999999999/0", pw, ""},
		{"redis://:Qx7/K9vW@host/0", "Qx7/K9vW", ""},
		{"redis://:Qx7?K9vW@host/0", "Qx7?K9vW", ""},
		{"redis://:Qx7#K9vW@host/0", "Qx7#K9vW", ""},
		{"redis://:Qx7K/9vW@host:abc/0", "Qx7K/9vW", ""},
		{":" + pw + "@host:6379", pw, ""},
		{"http://:" + pw + "@host", pw, ""},
		// Sentinel.
		{"redis-sentinel://:Qx7%zzK9vW@h1,h2/0?master=m", "Qx7%zzK9vW", ""},
		{"redis-sentinel://:" + pw + "@h1,h2:bad/0?master=m", pw, ""},
		{"redis-sentinel://:" + pw + "@h1/abc?master=m", pw, ""},
		{"redis-sentinel://:" + pw + "@h1?master=m&mastr=x", pw, ""},
		{"redis-sentinel://:" + pw + "@h1/0", pw, ""},
		{"redis-sentinel://:Qx7/K9vW@h1?master=m", "Qx7/K9vW", ""},
		{"redis-sentinel://h1?master=m&sentinel_password=Zq8%zzJ4wT", "", "Zq8%zzJ4wT"},
		{"redis-sentinel://h1?master=m&sentinel_password=Zq8&J4wT", "", "Zq8&J4wT"},
		{"redis-sentinel://h1?master=m&sentinel_password=Zq8#J4wT", "", "Zq8#J4wT"},
		{"redis-sentinel://h1?master=m&sentinel_password=Zq8@J4wT", "", "Zq8@J4wT"},
		{"redis-sentinel://:" + pw + "@h1?sentinel_password=" + spw, pw, spw},
		{"redis-sentinel://:" + pw + "@h1/x?master=m&sentinel_password=" + spw, pw, spw},
		// Cluster.
		{"redis-cluster://:Qx7%zzK9vW@h1:7000,h2:7001", "Qx7%zzK9vW", ""},
		{"redis-cluster://:" + pw + "@h1:7000,h2:x", pw, ""},
		{"redis-cluster://:" + pw + "@h1:7000/2", pw, ""},
		{"redis-cluster://:" + pw + "@h1:7000/abc", pw, ""},
		{"redis-cluster://:" + pw + "@h1:7000?sentinel_password=" + spw, pw, spw},
		{"redis-cluster://:Qx7?K9vW@h1:7000", "Qx7?K9vW", ""},
		{"redis-cluster://:" + pw + "@", pw, ""},
	} {
		_, err := Parse(tc.url)
		if !errors.Is(err, ErrBadURL) {
			t.Errorf("Parse(%q) = %v, want ErrBadURL", tc.url, err)
			continue
		}
		if s := leaks(err.Error(), tc.pass, tc.spass); s != "" {
			t.Errorf("Parse(%q) error shows %q: %v", tc.url, s, err)
		}
		if s := leaks(Redacted(tc.url), tc.pass, tc.spass); s != "" {
			t.Errorf("Redacted(%q) = %q shows %q", tc.url, Redacted(tc.url), s)
		}
	}
}

// Special characters written raw where a URL allows them, or encoded.
func TestParsePasswordCharacters(t *testing.T) {
	for raw, want := range map[string]string{
		"redis-cluster://:a,b:c@h1:7000":  "a,b:c",
		"redis-cluster://:p@ss@h1:7000":   "p@ss",
		"redis://:p%2Fs%3Fs%23%40%25@h/0": "p/s?s#@%",
		"redis://:p+s s@h/0":              "p+s s",
	} {
		c, err := Parse(raw)
		if err != nil {
			t.Errorf("Parse(%q): %v", raw, err)
			continue
		}
		if c.Universal.Password != want {
			t.Errorf("Parse(%q) password %q, want %q", raw, c.Universal.Password, want)
		}
	}
	c, err := Parse("redis-sentinel://h1?master=m&sentinel_password=a%26b%23c+d")
	if err != nil || c.Universal.SentinelPassword != "a&b#c d" {
		t.Fatalf("sentinel_password %q, %v", c.Universal.SentinelPassword, err)
	}
}

var fuzzSchemes = []string{"redis", "rediss", "redis-sentinel", "redis-cluster"}

// FuzzParseRedactsPassword builds URLs around a password and a sentinel
// password and checks that neither Parse's error nor Redacted ever shows
// one of them. An error that holds the password by chance (a password "2"
// and the "%23" of a hint) is told apart by building the same URL with
// every letter and digit of the secrets shifted: a real echo follows the
// shift, a chance match does not. Secrets shorter than 4 bytes, or written
// elsewhere in the URL too, are not checked.
func FuzzParseRedactsPassword(f *testing.F) {
	f.Add(uint8(0), "", "p%zzassword", "", "host:6379", "/0")
	f.Add(uint8(0), "u", "Qx7/K9vW", "", "host:abc", "/0")
	f.Add(uint8(2), "", "pw", "Zq8&J4wT", "h1,h2", "/0?master=m")
	f.Add(uint8(2), "su", "Qx7?K9", "Zq8%zz", "[::1]:1", "/x?master=m")
	f.Add(uint8(3), "", "Qx7#K9vW", "", "h1:7000,h2:x", "?nope")
	f.Fuzz(func(t *testing.T, form uint8, user, pass, spass, hosts, tail string) {
		build := func(pass, spass string) (raw, errText, redacted string) {
			raw = fuzzSchemes[int(form)%len(fuzzSchemes)] + "://" + user + ":" + pass + "@" + hosts + tail
			if spass != "" {
				sep := "?"
				if strings.Contains(tail, "?") {
					sep = "&"
				}
				raw += sep + "sentinel_password=" + spass
			}
			if _, err := Parse(raw); err != nil {
				errText = err.Error()
			}
			return raw, errText, Redacted(raw)
		}
		raw, errText, redacted := build(pass, spass)
		_, errShifted, redShifted := build(shift(pass), shift(spass))
		others := user + "\x00" + hosts + "\x00" + tail
		for _, s := range []string{pass, spass} {
			if len(s) < 4 || shift(s) == s || strings.Contains(others, s) || strings.Contains(others, shift(s)) {
				continue // too short, or written elsewhere too: nothing to tell an echo by
			}
			if strings.Contains(errText, s) && strings.Contains(errShifted, shift(s)) {
				t.Fatalf("Parse(%q) error shows %q: %s", raw, s, errText)
			}
			if strings.Contains(redacted, s) && strings.Contains(redShifted, shift(s)) {
				t.Fatalf("Redacted(%q) = %q shows %q", raw, redacted, s)
			}
		}
	})
}

// shift moves every letter and digit of s one place on within its class
// (0-9, a-f, g-z and the capitals alike), so that percent-escapes stay
// valid or invalid as they were.
func shift(s string) string {
	b := []byte(s)
	for i, c := range b {
		for _, class := range []string{"0123456789", "abcdef", "ghijklmnopqrstuvwxyz", "ABCDEF", "GHIJKLMNOPQRSTUVWXYZ"} {
			if j := strings.IndexByte(class, c); j >= 0 {
				b[i] = class[(j+1)%len(class)]
				break
			}
		}
	}
	return string(b)
}
