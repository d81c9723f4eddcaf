// Package keys names every Redis key vendorq adds next to asynq's own.
//
// Keys that one Lua script touches together share the endpoint's hash tag
// ({endpoint}) so that they live in one Redis Cluster slot. Keys that are
// only ever used one at a time (dedupe markers) carry no tag, so that
// millions of them spread over the cluster.
package keys

import "strconv"

// Prefix starts every vendorq key.
const Prefix = "vq:"

func tag(ep string) string { return Prefix + "{" + ep + "}:" }

// Bucket holds the endpoint's GCRA theoretical arrival time.
func Bucket(ep string) string { return tag(ep) + "bucket" }

// Sends holds the endpoint's recent send times (the sliding-window guard).
func Sends(ep string) string { return tag(ep) + "sends" }

// Lane is the sorted set of the bucket slots booked by handlers of one
// lane ("high", "default", "low") that have not called yet (member = the
// waiter, score = its slot time in µs): a higher lane takes the earliest of
// a lower lane's (internal/ratelimit/lanes.go, docs/lanes.md).
func Lane(ep, lane string) string { return tag(ep) + "lane:" + lane }

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

// DLQFacets is the dead-letter facet counts (facet "class|type|code" ->
// entries; internal/dlq/facets.go).
func DLQFacets(ep string) string { return tag(ep) + "dlq:facets" }

// DLQFacetPrefix starts the per-facet sorted sets of an endpoint's dead
// letters (prefix + facet; score = dead time in ms).
func DLQFacetPrefix(ep string) string { return tag(ep) + "dlq:f:" }

// DLQEndpoints is the set of endpoints that ever had a dead letter.
const DLQEndpoints = Prefix + "dlq:endpoints"

// Wake is the stream producers append to when an endpoint gets work
// (fields ep, at): every worker process reads it to start that endpoint's
// server (docs/idle.md). One key, so it has its own slot in a cluster.
const Wake = Prefix + "wake"

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

// Result is a done task's result record (internal/results), kept for
// results.retention. Like Dedupe it carries no tag: there is one per task.
func Result(ep, taskID string) string { return Prefix + "r:" + ep + ":" + taskID }

// The keys of one import batch (internal/batch) share the batch's hash tag,
// so that the script a handler runs when a task of the batch ends touches
// one slot.
func batchTag(id string) string { return Prefix + "{b:" + id + "}:" }

// BatchMeta is the batch's hash: what it is and its counters.
func BatchMeta(id string) string { return batchTag(id) + "meta" }

// BatchDone and BatchDead are bitmaps indexed by input line: the rows of
// the batch whose task ended done, or dead.
func BatchDone(id string) string { return batchTag(id) + "done" }

// BatchDead: see BatchDone.
func BatchDead(id string) string { return batchTag(id) + "dead" }

// BatchRows is one chunk of the batch's rows (line -> task id): chunk n
// holds lines n*BatchChunk .. n*BatchChunk+BatchChunk-1.
func BatchRows(id string, chunk int64) string {
	return batchTag(id) + "rows:" + strconv.FormatInt(chunk, 10)
}

// BatchChunk is the lines per BatchRows hash: under Redis's default
// hash-max-listpack-entries (128), so that every chunk stays a compact
// listpack.
const BatchChunk = 100
