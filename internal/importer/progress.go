package importer

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Bar draws an import's progress on a terminal: a bar over the input's
// bytes (so the ETA is honest whatever the row sizes) with rows/s in its
// description, or a spinner when the size is unknown (stdin).
type Bar struct {
	pb   *progressbar.ProgressBar
	size int64
}

// NewBar returns a bar writing to w; size <= 0 means unknown.
func NewBar(w io.Writer, size int64) *Bar {
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowBytes(true),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		// No spinner goroutine: it would go on drawing after the import
		// returned. Update (a few times a second) turns the spinner.
		progressbar.OptionSetSpinnerChangeInterval(0),
	}
	if size <= 0 {
		size = -1
		opts = append(opts, progressbar.OptionSpinnerType(14))
	}
	return &Bar{pb: progressbar.NewOptions64(size, opts...), size: size}
}

// Update is an Options.Progress callback.
func (b *Bar) Update(p Progress) {
	rate := 0.0
	if s := p.Elapsed.Seconds(); s > 0 {
		rate = float64(p.Rows) / s
	}
	b.pb.Describe(fmt.Sprintf("%d rows, %.0f rows/s", p.Rows, rate))
	_ = b.pb.Set64(p.Bytes)
	switch {
	case p.Done && b.size > 0 && p.Bytes >= b.size:
		_ = b.pb.Finish()
	case p.Done: // stopped early or unknown size: keep what it shows
		_ = b.pb.Exit()
	}
}
