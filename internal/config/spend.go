package config

import (
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"
)

// PhoneLimits caps the messages one phone number receives from an SMS
// endpoint per calendar minute, hour and day in China Standard Time,
// counted across every worker process (internal/spend). 0 = no cap.
type PhoneLimits struct {
	PerMinute int `yaml:"per_minute"`
	PerHour   int `yaml:"per_hour"`
	PerDay    int `yaml:"per_day"`
}

// smsOnlyKeys are endpoint keys that only SMS endpoints take (the
// vendor's kind comes from the registry): a record vendor has no phones
// and no per-message spend.
var smsOnlyKeys = map[string]bool{"phone_limits": true, "daily_budget": true}

// countKeys hold a count that must be a positive whole number when given:
// 0 would silently switch a cap off that the file seems to set (leave the
// key out for that).
var countKeys = map[string]bool{"per_minute": true, "per_hour": true, "per_day": true, "daily_budget": true}

// maxCount bounds a count (far above any gateway's day, and exact as a
// Lua number in the counting script).
const maxCount = 1_000_000_000

func checkCount(path string, n *yaml.Node) error {
	v, err := strconv.Atoi(n.Value)
	if err != nil || v < 1 || v > maxCount {
		return fmt.Errorf("%w: %s (line %d): %q must be a whole number from 1 to %d", ErrConfig, path, n.Line, n.Value, maxCount)
	}
	return nil
}

// checkPhoneLimits refuses a phone_limits that sets no limit (`{}` or
// empty): it reads like a cap and is none.
func checkPhoneLimits(path string, n *yaml.Node) error {
	if (n.Kind == yaml.MappingNode && len(n.Content) == 0) || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return fmt.Errorf("%w: line %d: %s: give per_minute, per_hour and/or per_day (leave phone_limits out for no cap)", ErrConfig, n.Line, path)
	}
	return nil
}
