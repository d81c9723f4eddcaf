// Package keys names every Redis key vendorq adds next to asynq's own.
//
// Keys that one Lua script touches together share the endpoint's hash tag
// ({endpoint}) so that they live in one Redis Cluster slot. Keys that are
// only ever used one at a time (dedupe markers) carry no tag, so that
// millions of them spread over the cluster.
package keys

// Prefix starts every vendorq key.
const Prefix = "vq:"

func tag(ep string) string { return Prefix + "{" + ep + "}:" }

// Bucket holds the endpoint's GCRA theoretical arrival time.
func Bucket(ep string) string { return tag(ep) + "bucket" }

// Sends holds the endpoint's recent send times (the sliding-window guard).
func Sends(ep string) string { return tag(ep) + "sends" }

// Pause exists while the endpoint is paused after a quota answer.
func Pause(ep string) string { return tag(ep) + "pause" }

// Adapt holds the endpoint's adaptive rate cut {cut, at}.
func Adapt(ep string) string { return tag(ep) + "adapt" }

// Attempts is a hash of per-task attempt bookkeeping (first call time, calls).
func Attempts(ep string) string { return tag(ep) + "attempts" }

// DLQIndex is the dead-letter sorted set (score = dead time in ms).
func DLQIndex(ep string) string { return tag(ep) + "dlq" }

// DLQEntries is the dead-letter hash (task id -> JSON entry).
func DLQEntries(ep string) string { return tag(ep) + "dlq:entries" }

// DLQEndpoints is the set of endpoints that ever had a dead letter.
const DLQEndpoints = Prefix + "dlq:endpoints"

// DhgjToken is the shared dhgjcloud access token of an endpoint.
func DhgjToken(ep string) string { return tag(ep) + "dhgj:token" }

// VendorPrefix starts the keys a vendor client keeps for an endpoint
// (vendorclient.Settings.KeyPrefix; dhgjcloud's token is DhgjToken). It
// carries the endpoint's hash tag, so a vendor's scripts stay in one slot.
func VendorPrefix(ep string) string { return tag(ep) }

// SMSSent is the set of phones an sms:send task has already delivered to,
// so that a retry resends only to the phones that failed.
func SMSSent(ep, taskID string) string { return tag(ep) + "smssent:" + taskID }

// Dedupe marks a finished task's ID so a producer does not enqueue its key again.
func Dedupe(ep, taskID string) string { return Prefix + "dd:" + ep + ":" + taskID }

// The spend keys of an SMS endpoint (handlers/spend.go, internal/spend)
// are touched together by one Lua script, so they carry the endpoint's
// hash tag like the rest; each names its China Standard Time window, so
// that a new window starts at zero without a reset, and each has a TTL
// just past its window's end, so that none piles up.

// SpendDay is a hash of the endpoint's messages counted on one day
// (YYYYMMDD): field "n" is the count, one field per counted msgid.
func SpendDay(ep, day string) string { return tag(ep) + "spend:" + day }

// PhoneCount counts the messages to phone in one window: window is "m",
// "h" or "d" and stamp its calendar minute, hour or day (YYYYMMDDhhmm, …).
func PhoneCount(ep, window, stamp, phone string) string {
	return tag(ep) + "cap:" + window + stamp + ":" + phone
}
