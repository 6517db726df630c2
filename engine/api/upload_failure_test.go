package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
)

// Each kind is told from the sentinel an uploader wrapped, or from the standard library's
// errors; a kind survives WrapFailure.
func TestClassifyFailure(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want FailureKind
	}{
		{nil, ""},
		{fmt.Errorf("part 3: %w", ErrChecksum), FailureChecksum},
		{fmt.Errorf("401: %w: %w", ErrAuth, ErrPermanent), FailureAuth},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, FailureRefused},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), FailureReset},
		{fmt.Errorf("s3: head: %w", io.EOF), FailureReset},
		{fmt.Errorf("patch: %w", io.ErrUnexpectedEOF), FailureReset},
		{&net.OpError{Op: "write", Net: "tcp", Err: net.ErrClosed}, FailureReset},
		{fmt.Errorf("slow: %w", context.DeadlineExceeded), FailureTimeout},
		{&net.DNSError{Err: "no such host", Name: "rws.invalid"}, FailureDNS},
		{context.Canceled, FailureCanceled},
		{errors.New("open segment: permission denied"), FailureOther},
	} {
		if got := ClassifyFailure(tc.err); got != tc.want {
			t.Errorf("ClassifyFailure(%v) = %q, want %q", tc.err, got, tc.want)
		}
		if tc.err != nil && tc.want != FailureOther && tc.want != FailureCanceled {
			if w := WrapFailure(tc.err); !errors.Is(w, FailureSentinels()[tc.want]) || w.Error() != tc.err.Error() {
				t.Errorf("WrapFailure(%v) = %v: not %s's sentinel, or another message", tc.err, w, tc.want)
			}
		}
	}
}
