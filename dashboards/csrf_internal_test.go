package dashboards

import (
	"strings"
	"testing"
	"time"
)

func TestCSRFTokens(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	secret := []byte(strings.Repeat("x", MinCSRFSecretLen))
	a, err := newCSRFTokens(secret)
	if err != nil {
		t.Fatal(err)
	}
	a.now = func() time.Time { return now }
	b, _ := newCSRFTokens(secret)
	b.now = a.now
	other, _ := newCSRFTokens(nil)
	other.now = a.now

	tok := a.issue()
	if tok == a.issue() {
		t.Error("two tokens are equal: no nonce")
	}
	if !a.valid(tok) || !b.valid(tok) {
		t.Error("a fresh token is refused by a process with the same secret")
	}
	if other.valid(tok) {
		t.Error("a process with another secret accepts the token")
	}
	// Any changed character breaks it.
	for i := range tok {
		c := byte('A')
		if tok[i] == 'A' {
			c = 'B'
		}
		if a.valid(tok[:i] + string(c) + tok[i+1:]) {
			t.Fatalf("token with character %d changed accepted", i)
		}
	}
	for _, bad := range []string{"", "x", strings.Repeat("A", 75), tok + "A"} {
		if a.valid(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
	// Age: valid for csrfTTL, a little clock skew tolerated.
	now = now.Add(csrfTTL)
	if !a.valid(tok) {
		t.Error("a token exactly csrfTTL old refused")
	}
	now = now.Add(time.Second)
	if a.valid(tok) {
		t.Error("an expired token accepted")
	}
	now = now.Add(-csrfTTL - time.Second - csrfSkew/2)
	if !b.valid(tok) {
		t.Error("a token from a clock slightly ahead refused")
	}
	now = now.Add(-csrfSkew)
	if b.valid(tok) {
		t.Error("a token from far in the future accepted")
	}
}

func TestCSRFSecretTooShort(t *testing.T) {
	_, err := newCSRFTokens([]byte("0123456789abcdef0123456789abcde")) // 31
	if err == nil || strings.Contains(err.Error(), "0123456789") {
		t.Errorf("a 31-character secret: %v; want a refusal without the secret", err)
	}
}
