package s3upload_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/internal/s3server"
	"github.com/screenrec/recorder/pkg/s3upload"
)

// remoteSigner stands for a fleet controller: it signs with credentials the sender never
// sees, and what it hands over crosses a wire as JSON.
type remoteSigner struct {
	local *s3upload.LocalSigner
	ops   []s3upload.Op
}

func (r *remoteSigner) Sign(ctx context.Context, op s3upload.Operation) (s3upload.SignedRequest, error) {
	sr, err := r.local.Sign(ctx, op)
	if err != nil {
		return sr, err
	}
	r.ops = append(r.ops, op.Op)
	raw, _ := json.Marshal(sr)
	var out s3upload.SignedRequest
	err = json.Unmarshal(raw, &out)
	return out, err
}

func hexSum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// A multipart upload sent with nothing but pre-signed requests handed over as JSON: the
// checksum, metadata and encryption-less headers are signed, and a part whose bytes differ
// from the signed sha256 is refused.
func TestPresignedMultipartWithSignedChecksums(t *testing.T) {
	srv := s3server.Start(t)
	ctx := context.Background()
	signer := &remoteSigner{local: &s3upload.LocalSigner{Endpoint: srv.URL, Region: s3server.Region, Bucket: s3server.Bucket,
		PathStyle: true, AccessKeyID: s3server.AccessKey, SecretAccessKey: s3server.SecretKey}}
	c := &s3upload.Client{Signer: signer}

	sr, err := signer.local.Sign(ctx, s3upload.Operation{Op: s3upload.OpUploadPart, Key: "k", UploadID: "u", PartNumber: 1, SHA256: hexSum(nil)})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(sr.URL)
	if sh := u.Query().Get("X-Amz-SignedHeaders"); !strings.Contains(sh, "x-amz-checksum-sha256") {
		t.Errorf("signed headers %q: the part's checksum is not signed", sh)
	}

	key := "a b/c+d@e.mp4" // characters that escape differently in paths
	meta := map[string]string{"sha256": "x", "recording-id": "r1"}
	id, err := c.Create(ctx, key, meta)
	if err != nil {
		t.Fatal(err)
	}
	p1 := make([]byte, 5<<20)
	p2 := []byte("the last part")
	rand.Read(p1)
	// Bytes that are not the signed ones are refused.
	bad := append([]byte(nil), p1...)
	bad[7] ^= 1
	if _, err := c.UploadPart(ctx, key, id, 1, bytes.NewReader(bad), int64(len(bad)), hexSum(p1)); !errors.Is(err, api.ErrChecksum) {
		t.Fatalf("part with other bytes than signed: %v, want a checksum refusal", err)
	}
	part1, err := c.UploadPart(ctx, key, id, 1, bytes.NewReader(p1), int64(len(p1)), hexSum(p1))
	if err != nil {
		t.Fatal(err)
	}
	part2, err := c.UploadPart(ctx, key, id, 2, bytes.NewReader(p2), int64(len(p2)), hexSum(p2))
	if err != nil {
		t.Fatal(err)
	}
	listed, err := c.ListParts(ctx, key, id)
	if err != nil || len(listed) != 2 || listed[0].ChecksumSHA256 != part1.ChecksumSHA256 || listed[1].Size != int64(len(p2)) {
		t.Fatalf("list parts: %+v %v; want parts 1 and 2 with their checksums", listed, err)
	}
	obj, err := c.Complete(ctx, key, id, []s3upload.Part{part1, part2})
	if err != nil {
		t.Fatal(err)
	}
	d1, d2 := sha256.Sum256(p1), sha256.Sum256(p2)
	comp := sha256.Sum256(append(d1[:], d2[:]...))
	want, _ := s3upload.Base64SHA256(hex.EncodeToString(comp[:]))
	if obj.ChecksumSHA256 != want+"-2" {
		t.Errorf("composite checksum %q, want %q", obj.ChecksumSHA256, want+"-2")
	}
	head, err := c.Head(ctx, key)
	if err != nil || head.Size != int64(len(p1)+len(p2)) || head.Metadata["recording-id"] != "r1" {
		t.Errorf("head: %+v %v", head, err)
	}
	if _, err := c.ListParts(ctx, key, id); !errors.Is(err, s3upload.ErrNoSuchUpload) {
		t.Errorf("list parts of a completed upload: %v, want ErrNoSuchUpload", err)
	}
	if _, err := c.Head(ctx, "missing"); !errors.Is(err, s3upload.ErrNotFound) {
		t.Errorf("head of a missing key: %v, want ErrNotFound", err)
	}
	t.Logf("operations signed: %v", signer.ops)
}
