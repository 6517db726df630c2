package s3

import (
	"fmt"
	"mime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/screenrec/recorder/pkg/s3upload"
	"github.com/screenrec/recorder/plugins/sdk"
)

// templateVariables are the key template's variables.
var templateVariables = []string{"owner", "date", "year", "month", "day", "recording_id", "segment",
	"contact_id", "interaction_id", "agent", "place", "target"}

// keyTemplate is a parsed key template: literal text and variables, alternating.
type keyTemplate struct {
	parts []tmplPart
}

type tmplPart struct {
	lit string
	v   string // variable name; empty for literal text
}

// parseKeyTemplate parses "{owner}/{date}/…"; an unknown variable is an error naming it.
func parseKeyTemplate(s string) (*keyTemplate, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: empty", ErrBadTemplate)
	}
	t := &keyTemplate{}
	rest := s
	for rest != "" {
		i := strings.IndexAny(rest, "{}")
		if i < 0 {
			t.parts = append(t.parts, tmplPart{lit: rest})
			break
		}
		if rest[i] == '}' {
			return nil, fmt.Errorf("%w: %q: '}' without '{'", ErrBadTemplate, s)
		}
		if i > 0 {
			t.parts = append(t.parts, tmplPart{lit: rest[:i]})
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("%w: %q: '{' without '}'", ErrBadTemplate, s)
		}
		name := rest[i+1 : i+j]
		known := false
		for _, v := range templateVariables {
			known = known || v == name
		}
		if !known {
			return nil, errUnknownVariable(name)
		}
		t.parts = append(t.parts, tmplPart{v: name})
		rest = rest[i+j+1:]
	}
	if strings.HasPrefix(s, "/") {
		return nil, fmt.Errorf("%w: %q: a key does not start with '/'", ErrBadTemplate, s)
	}
	return t, nil
}

// render is the key of req's segment. Each variable's value is made safe for a key: '/' and
// characters outside letters, digits and "-_.@+=" become '_'; an empty one is "_".
func (t *keyTemplate) render(req sdk.UploadRequest) string {
	vars := keyVariables(req)
	var b strings.Builder
	for _, p := range t.parts {
		if p.v == "" {
			b.WriteString(p.lit)
			continue
		}
		b.WriteString(keySafe(vars[p.v]))
	}
	return b.String()
}

func keyVariables(req sdk.UploadRequest) map[string]string {
	m := req.Metadata
	vars := map[string]string{
		"owner":          m["userId"],
		"recording_id":   req.RecordingID,
		"segment":        strconv.Itoa(req.SegmentIndex),
		"contact_id":     m["contactId"],
		"interaction_id": m["interactionId"],
		"agent":          m["agent"],
		"place":          m["place"],
		"target":         req.Target,
	}
	if vars["recording_id"] == "" {
		vars["recording_id"] = m["recordingId"]
	}
	if start, err := time.Parse(time.RFC3339Nano, m["startTime"]); err == nil {
		u := start.UTC()
		vars["date"] = u.Format("2006-01-02")
		vars["year"], vars["month"], vars["day"] = u.Format("2006"), u.Format("01"), u.Format("02")
	}
	return vars
}

func keySafe(v string) string {
	if v == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.@+=", r) {
			return r
		}
		return '_'
	}, v)
}

// metaPriority orders the recording's metadata keys by what is kept first when they exceed
// S3's 2 KiB: the checksum and identity before descriptive keys.
var metaPriority = []string{"sha256", "recordingId", "segment", "final", "userId", "contactId",
	"interactionId", "startTime", "stopTime", "durationMs", "state", "reason", "agent", "place",
	"filename", "filetype", "masked", "monitors", "width", "height", "codec", "encoder"}

// routingKeys are request metadata that route an upload and are not the recording's.
var routingKeys = map[string]bool{"server": true, "peer_server": true}

// objectMetadata is the recording's metadata as S3 user metadata: keys in kebab case
// (recordingId → recording-id), values RFC 2047-encoded when not printable ASCII, and keys
// dropped from the least important on when the total passes S3's 2 KiB (sha256 is always
// kept; "truncated: true" says that keys were dropped).
func objectMetadata(req sdk.UploadRequest, sum string) map[string]string {
	src := map[string]string{}
	for k, v := range req.Metadata {
		if !routingKeys[k] {
			src[k] = v
		}
	}
	src["sha256"] = sum
	if src["recordingId"] == "" {
		src["recordingId"] = req.RecordingID
	}
	if src["segment"] == "" {
		src["segment"] = strconv.Itoa(req.SegmentIndex)
	}
	order := append([]string(nil), metaPriority...)
	var extra []string
	for k := range src {
		found := false
		for _, p := range metaPriority {
			found = found || p == k
		}
		if !found {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	order = append(order, extra...)

	out := map[string]string{}
	const reserve = len("truncated") + len("true")
	total := 0
	for _, k := range order {
		v, ok := src[k]
		if !ok || v == "" {
			continue
		}
		mk := metaKey(k)
		if mk == "" {
			continue
		}
		mv := metaValue(v)
		if total+len(mk)+len(mv)+reserve > s3upload.MaxMetadataBytes {
			out["truncated"] = "true"
			continue
		}
		out[mk] = mv
		total += len(mk) + len(mv)
	}
	return out
}

// metaKey turns camelCase or snake_case into S3's lower-case kebab case; "" when nothing
// usable is left.
func metaKey(k string) string {
	var b strings.Builder
	for i, r := range k {
		switch {
		case r >= 'A' && r <= 'Z':
			if i > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r - 'A' + 'a')
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-':
			b.WriteRune(r)
		case r == '_':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// metaValue keeps printable ASCII as it is and encodes anything else as RFC 2047
// (=?UTF-8?B?…?=), as AWS's SDKs do.
func metaValue(v string) string {
	for _, r := range v {
		if r < 0x20 || r > 0x7e {
			return mime.BEncoding.Encode("UTF-8", v)
		}
	}
	return v
}
