package tasks

import (
	"strings"
	"testing"
)

// ValidEndpoint is a byte-table loop for speed; it must say what endpointRe says.
func TestValidEndpointAgreesWithItsRegexp(t *testing.T) {
	cases := []string{"", "forms", "sms_2", "a-b", strings.Repeat("x", 64), strings.Repeat("x", 65), "forms:high", "a b", "é", "a.b", "A9"}
	for c := 0; c < 256; c++ {
		cases = append(cases, string([]byte{byte(c)}), "ep"+string([]byte{byte(c)}))
	}
	for _, s := range cases {
		if got, want := ValidEndpoint(s), endpointRe.MatchString(s); got != want {
			t.Errorf("ValidEndpoint(%q) = %v, endpointRe says %v", s, got, want)
		}
	}
}
