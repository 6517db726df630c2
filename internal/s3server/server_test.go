package s3server

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/minio/minio-go/v7"
)

// The server starts, stores an object, and keeps it across a kill and restart.
func TestStartKillRestart(t *testing.T) {
	s := Start(t)
	ctx := context.Background()
	data := bytes.Repeat([]byte("segment "), 1000)
	if _, err := s.Client().PutObject(ctx, Bucket, "a/b.mp4", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	obj, err := s.Client().GetObject(ctx, Bucket, "a/b.mp4", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after restart: %d bytes, %v; want %d", len(got), err, len(data))
	}
	if s.BodyBytes() < int64(len(data)) {
		t.Errorf("proxy counted %d body bytes, want >= %d", s.BodyBytes(), len(data))
	}
}
