package engine

import "sync/atomic"

// The steps of a session's end that failpoint is called at, in order.
const (
	// stepFinishBegin: the sink has ended and its files are final; nothing of the end is in
	// the catalog yet.
	stepFinishBegin = "finish:begin"
	// stepFinishInTransaction: inside the catalog transaction that records the end, before
	// it commits.
	stepFinishInTransaction = "finish:in-transaction"
	// stepFinishCommitted: the end and its upload jobs are committed; the uploader has not
	// been told yet.
	stepFinishCommitted = "finish:committed"
)

// failpoint, when set (only tests set it), is called at each step above; an error it returns
// fails that step as a catalog error would. Tests use it to kill the process, or to fail the
// catalog, between the steps of a session's end.
var failpoint atomic.Pointer[func(e *Engine, step string) error]

// failAt runs the failpoint for step, if one is set.
func (e *Engine) failAt(step string) error {
	if f := failpoint.Load(); f != nil {
		return (*f)(e, step)
	}
	return nil
}
