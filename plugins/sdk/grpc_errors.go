package sdk

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	"github.com/screenrec/recorder/engine/api"
	pb "github.com/screenrec/recorder/plugins/sdk/internal/proto/recorder/plugin/v1"
)

// Errors across the plugin boundary.
//
// A server shim turns an implementation's error into a gRPC status (toStatus): the code comes
// from the first sentinel in errorClasses the error wraps (codes.Unknown if none), the message
// is err.Error() unchanged, and an ErrorDetail lists every sentinel the error wraps by reason
// name, plus the session of an *api.AlreadyRecordingError. A client shim turns the status
// back (fromStatus) into an error with the same message that wraps the same sentinels, so
// errors.Is and errors.As work on the receiving side as they did on the sending side.
//
// Statuses without an ErrorDetail come from gRPC itself, not from the other side's code:
// Unavailable (and Canceled while the caller's ctx is still live) means the connection is gone,
// which a host reports as ErrPluginExited and a plugin calling the engine as api.ErrClosed;
// Canceled and DeadlineExceeded wrap the context errors; Unimplemented wraps
// errors.ErrUnsupported (an RPC a peer of an older protocol minor does not serve).

// errorClass ties a sentinel error to its reason name on the wire and its gRPC code.
type errorClass struct {
	reason string
	err    error
	code   codes.Code
}

// errorClasses is the mapping, in order of precedence for the code. Reason names are part of
// the protocol: never rename one.
var errorClasses = append([]errorClass{
	{"engine.not_found", api.ErrNotFound, codes.NotFound},
	{"engine.busy", api.ErrBusy, codes.Aborted},
	{"engine.already_recording", api.ErrAlreadyRecording, codes.AlreadyExists},
	{"engine.illegal_transition", api.ErrIllegalTransition, codes.FailedPrecondition},
	{"engine.terminal", api.ErrTerminal, codes.FailedPrecondition},
	{"engine.too_many_sessions", api.ErrTooManySessions, codes.ResourceExhausted},
	{"engine.spool_quota", api.ErrSpoolQuota, codes.ResourceExhausted},
	{"engine.disk_full", api.ErrDiskFull, codes.ResourceExhausted},
	{"engine.invalid_request", api.ErrInvalidRequest, codes.InvalidArgument},
	{"engine.closed", api.ErrClosed, codes.Unavailable},
	{"sdk.permanent", ErrPermanent, codes.FailedPrecondition},
	{"sdk.not_configured", ErrNotConfigured, codes.FailedPrecondition},
	{"sdk.stopped", ErrStopped, codes.FailedPrecondition},
	{"sdk.bad_config", ErrBadConfig, codes.InvalidArgument},
	{"sdk.plugin_exited", ErrPluginExited, codes.Unavailable},
	{"context.canceled", context.Canceled, codes.Canceled},
	{"context.deadline_exceeded", context.DeadlineExceeded, codes.DeadlineExceeded},
	{"unsupported", errors.ErrUnsupported, codes.Unimplemented},
}, uploadFailureClasses()...)

// uploadFailureClasses carry the upload failure kinds as reasons "upload.<kind>"; they come
// after the classes above and leave the code alone (Unknown).
func uploadFailureClasses() []errorClass {
	var out []errorClass
	for kind, err := range api.FailureSentinels() {
		out = append(out, errorClass{"upload." + string(kind), err, codes.Unknown})
	}
	slices.SortFunc(out, func(a, b errorClass) int { return strings.Compare(a.reason, b.reason) })
	return out
}

var errorClassByReason = func() map[string]errorClass {
	m := make(map[string]errorClass, len(errorClasses))
	for _, c := range errorClasses {
		m[c.reason] = c
	}
	return m
}()

// toStatus returns the gRPC status error a server shim returns for err (nil for nil). extra
// messages ride along as further status details (Configure's diagnostics).
func toStatus(err error, extra ...protoadapt.MessageV1) error {
	if err == nil {
		return nil
	}
	detail := &pb.ErrorDetail{}
	code := codes.Unknown
	for _, c := range errorClasses {
		if errors.Is(err, c.err) {
			detail.Reasons = append(detail.Reasons, c.reason)
			if code == codes.Unknown {
				code = c.code
			}
		}
	}
	if ae := (*api.AlreadyRecordingError)(nil); errors.As(err, &ae) && ae != nil {
		detail.AlreadyRecording = sessionToProto(ae.Session)
	}
	st := status.New(code, err.Error())
	if withDetails, derr := st.WithDetails(append([]protoadapt.MessageV1{detail}, extra...)...); derr == nil {
		st = withDetails
	}
	return st.Err()
}

// remoteError is an error that crossed the plugin boundary: the other side's message and the
// sentinels its error wrapped.
type remoteError struct {
	msg  string
	errs []error
}

func (e *remoteError) Error() string { return e.msg }

// Unwrap returns the sentinels (and *api.AlreadyRecordingError) the remote error wrapped.
func (e *remoteError) Unwrap() []error { return e.errs }

// fromStatus turns an error returned by a generated gRPC client back into a Go error (nil for
// nil). ctx is the caller's context; gone is what a dead connection means from this side:
// ErrPluginExited on the host, api.ErrClosed in a plugin calling the engine.
func fromStatus(ctx context.Context, err error, gone error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	msg := st.Message()
	for _, d := range st.Details() {
		if detail, ok := d.(*pb.ErrorDetail); ok {
			return decodeErrorDetail(msg, detail)
		}
	}
	switch st.Code() {
	case codes.Canceled:
		if ctxErr := ctx.Err(); ctxErr != nil {
			return &remoteError{msg: msg, errs: []error{ctxErr}}
		}
		// The caller did not cancel: the connection was torn down under the call.
		return fmt.Errorf("%w: %s", gone, msg)
	case codes.DeadlineExceeded:
		return &remoteError{msg: msg, errs: []error{context.DeadlineExceeded}}
	case codes.Unavailable:
		return fmt.Errorf("%w: %s", gone, msg)
	case codes.Unimplemented:
		return &remoteError{msg: msg, errs: []error{errors.ErrUnsupported}}
	case codes.Unknown:
		return &remoteError{msg: msg}
	}
	return &remoteError{msg: fmt.Sprintf("%s (gRPC %s)", msg, st.Code())}
}

// decodeErrorDetail rebuilds the error an ErrorDetail describes. Unknown reasons (from a newer
// peer) are ignored.
func decodeErrorDetail(msg string, d *pb.ErrorDetail) error {
	e := &remoteError{msg: msg}
	haveAlreadyRecording := false
	if p := d.GetAlreadyRecording(); p != nil {
		if s, err := sessionFromProto(p); err == nil {
			e.errs = append(e.errs, &api.AlreadyRecordingError{Session: s})
			haveAlreadyRecording = true
		}
	}
	for _, r := range d.GetReasons() {
		c, ok := errorClassByReason[r]
		if !ok || (haveAlreadyRecording && c.err == api.ErrAlreadyRecording) {
			continue // the *AlreadyRecordingError already unwraps to ErrAlreadyRecording
		}
		e.errs = append(e.errs, c.err)
	}
	return e
}

// statusDetail returns the first detail of err's status that is a T, if any.
func statusDetail[T any](err error) (T, bool) {
	var zero T
	st, ok := status.FromError(err)
	if !ok {
		return zero, false
	}
	for _, d := range st.Details() {
		if t, ok := d.(T); ok {
			return t, true
		}
	}
	return zero, false
}
