package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/tasks"
)

// BatchRequest is the body of POST /v1/tasks:batch. The server does not
// decode it whole: readBatch streams it one item at a time.
type BatchRequest struct {
	Items []json.RawMessage `json:"items"`
}

// BatchItem is one element of BatchRequest.Items: the task JSON of
// /v1/tasks/record ("record") or /v1/tasks/sms ("sms").
type BatchItem struct {
	Type string          `json:"type"`
	Task json.RawMessage `json:"task"`
}

// ItemResult is the outcome of one item, in request order. Status is what
// the single-task route would have answered: 202 enqueued, 200 duplicate,
// 400 rejected (Error says why), 503/500 not enqueued.
type ItemResult struct {
	Index     int         `json:"index"`
	Status    int         `json:"status"`
	TaskID    string      `json:"task_id,omitempty"`
	Duplicate bool        `json:"duplicate"`
	Error     *FieldError `json:"error,omitempty"`
}

// BatchResponse answers a batch: counts and one result per item.
type BatchResponse struct {
	Accepted   int          `json:"accepted"`   // newly enqueued (202)
	Duplicates int          `json:"duplicates"` // already enqueued or done (200)
	Rejected   int          `json:"rejected"`   // invalid (400)
	Failed     int          `json:"failed"`     // not enqueued because Redis failed (503/500)
	Results    []ItemResult `json:"results"`
	// BatchID follows the request's tasks: `enqueue batch status|report
	// ID`; an item's line there is its index + 1. "" when the server
	// tracks no batch (Options.NewBatch unset).
	BatchID string `json:"batch_id,omitempty"`
}

// handleBatch validates every item, then enqueues the valid ones with
// producer.EnqueueBatch (one pipelined dedupe check per part), several
// parts at once. The answer is 200 whenever the request itself was well
// formed, whatever the items' outcomes; 503 (500 for an internal error)
// when Redis failed for some items: the body still says which ones were
// enqueued, so a client resends only those with status 503.
func (s *Server) handleBatch(w http.ResponseWriter, r *http.Request) {
	var (
		resp  BatchResponse
		items []producer.Item
		index []int // index[k] = request position of items[k]
		first = map[string]int{}
		dupOf = map[int]int{} // request position -> position of the same key earlier in the batch
	)
	tr, ok := s.startBatch(w, r)
	if !ok {
		return
	}
	err := readBatch(http.MaxBytesReader(w, r.Body, s.o.MaxBatchBytes), s.o.MaxBatchItems, func(i int, raw []byte) {
		resp.Results = append(resp.Results, ItemResult{Index: i})
		res := &resp.Results[i]
		it, fe := s.prepareItem(raw, i, tr.ref(i))
		if fe != nil {
			res.Status, res.Error = http.StatusBadRequest, fe
			return
		}
		// The same key twice in one batch: the first one is enqueued, the
		// others are its duplicates (decided here, so the answer does not
		// depend on which part reached Redis first).
		if id := tasks.TaskID(it.Key); id != "" {
			k := it.Endpoint + "\x00" + id
			if j, seen := first[k]; seen {
				dupOf[i] = j
				return
			}
			first[k] = i
		}
		items = append(items, it)
		index = append(index, i)
	})
	var fe *FieldError
	switch {
	case errors.As(err, &fe):
		writeErrors(w, http.StatusBadRequest, *fe)
		return
	case err != nil:
		writeBodyError(w, err, s.o.MaxBatchBytes)
		return
	}

	failed := s.enqueueParts(r, items, index, resp.Results, tr)
	resp.BatchID = tr.id()
	for i, j := range dupOf {
		res, orig := &resp.Results[i], resp.Results[j]
		if orig.Status == http.StatusAccepted || orig.Status == http.StatusOK {
			res.Status, res.TaskID, res.Duplicate = http.StatusOK, orig.TaskID, true
		} else {
			res.Status, res.Error = orig.Status, orig.Error
		}
	}
	for _, res := range resp.Results {
		switch res.Status {
		case http.StatusAccepted:
			resp.Accepted++
		case http.StatusOK:
			resp.Duplicates++
		case http.StatusBadRequest:
			resp.Rejected++
		default:
			resp.Failed++
		}
	}
	status := http.StatusOK
	if failed != nil {
		s.o.Log.Error().Err(failed).Int("accepted", resp.Accepted).Int("failed", resp.Failed).Msg("api: batch partly enqueued")
		status, _ = taskError(failed, "")
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "5")
		}
	}
	writeJSON(w, status, resp)
}

// prepareItem decodes and validates item i (raw is only read, not kept).
func (s *Server) prepareItem(raw []byte, i int, ref tasks.BatchRef) (producer.Item, *FieldError) {
	prefix := fmt.Sprintf("items[%d]", i)
	if len(raw) > int(s.o.MaxTaskBytes) {
		return producer.Item{}, &FieldError{Field: prefix, Reason: fmt.Sprintf("%d bytes, over the %d-byte limit of one task", len(raw), s.o.MaxTaskBytes)}
	}
	var it BatchItem
	if fe := decodeStrict(raw, &it, prefix); fe != nil {
		return producer.Item{}, fe
	}
	if it.Type != kindRecord && it.Type != kindSMS {
		return producer.Item{}, &FieldError{Field: prefix + ".type", Reason: fmt.Sprintf(`must be "record" or "sms", got %q`, it.Type)}
	}
	tp := prefix + ".task"
	p, err := s.prepareTask(it.Type, it.Task, tp, ref)
	if err != nil {
		_, fe := taskError(err, tp)
		return producer.Item{}, &fe
	}
	return p, nil
}

// enqueueParts splits items into up to BatchConcurrency parts, enqueues
// them at once and fills results (index maps an item to its request
// position). It returns the first Redis error, if any.
func (s *Server) enqueueParts(r *http.Request, items []producer.Item, index []int, results []ItemResult, tr batchTracker) error {
	if len(items) == 0 {
		return nil
	}
	const minPart = 50 // below this a goroutine costs more than it saves
	parts := min(s.o.BatchConcurrency, (len(items)+minPart-1)/minPart)
	size := (len(items) + parts - 1) / parts
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for lo := 0; lo < len(items); lo += size {
		hi := min(lo+size, len(items))
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			res, done, err := s.o.Producer.EnqueueBatch(r.Context(), items[lo:hi])
			if terr := tr.record(r.Context(), index[lo:hi], items[lo:hi], res, done); terr != nil && err == nil {
				err = terr // enqueued, but not noted in the batch: the answer says 503
			}
			for k := range res {
				out := &results[index[lo+k]]
				switch {
				case done[k] && res[k].Duplicate:
					out.Status, out.TaskID, out.Duplicate = http.StatusOK, res[k].TaskID, true
				case done[k]:
					out.Status, out.TaskID = http.StatusAccepted, res[k].TaskID
				default:
					status, fe := taskError(err, "")
					out.Status, out.Error = status, &fe
				}
			}
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}(lo, hi)
	}
	wg.Wait()
	return firstErr
}
