package s3upload

import "context"

// Upload says what an upload is of, for a signer that wants to know (a fleet controller
// records in its index where each segment of each recording landed). It travels in the
// context of the Client's calls (WithUpload), so that a Client shared by many uploads can
// serve them all.
type Upload struct {
	// RecordingID is the recording's id, Segment the segment's index (from 1).
	RecordingID string
	Segment     int
	// Owner is the recorded user.
	Owner string
	// Bytes and SHA256 (hex) are the object's size and checksum.
	Bytes  int64
	SHA256 string
}

type uploadKey struct{}

// WithUpload returns ctx carrying u.
func WithUpload(ctx context.Context, u Upload) context.Context {
	return context.WithValue(ctx, uploadKey{}, u)
}

// UploadFrom returns the Upload ctx carries.
func UploadFrom(ctx context.Context) (Upload, bool) {
	u, ok := ctx.Value(uploadKey{}).(Upload)
	return u, ok
}

// Confirmer is a Signer that is told when an upload is done: the caller has checked that the
// server holds the whole object under key. It answers where the object landed (its location
// as the signer's side names it); an error means the signer's side could not record it, and
// the upload is not done.
type Confirmer interface {
	Confirm(ctx context.Context, key string) (location string, err error)
}
