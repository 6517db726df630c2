package sdk

import (
	"fmt"
	"image"
	"time"

	"github.com/screenrec/recorder/engine/api"
	pb "github.com/screenrec/recorder/plugins/sdk/internal/proto/recorder/plugin/v1"
)

// Conversions between the sdk's and engine's Go types and the wire types. The *ToProto
// functions never fail; the *FromProto functions fail only on names they do not know (a
// state or event kind from a newer peer).
//
// Empty slices and maps arrive as nil, and times arrive in UTC without a monotonic reading:
// the wire cannot tell nil from empty, nor carry a location.

// timeToProto encodes t as unix nanoseconds; the zero time is absent.
func timeToProto(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := t.UnixNano()
	return &n
}

// timeFromProto decodes a time written by timeToProto.
func timeFromProto(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return time.Unix(0, *n).UTC()
}

// mapOrNil copies m, returning nil when it is empty.
func mapOrNil(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// ---- base ----

func infoToProto(i Info) *pb.InfoResponse {
	return &pb.InfoResponse{Name: i.Name, Kind: string(i.Kind), Version: i.Version}
}

func infoFromProto(p *pb.InfoResponse) Info {
	return Info{Name: p.GetName(), Kind: Kind(p.GetKind()), Version: p.GetVersion()}
}

func schemaToProto(s Schema) *pb.ConfigSchemaResponse {
	out := &pb.ConfigSchemaResponse{}
	for _, f := range s.Fields {
		out.Fields = append(out.Fields, &pb.Field{
			Name: f.Name, Type: f.Type, Description: f.Description,
			Required: f.Required, Default: f.Default, Secret: f.Secret,
		})
	}
	return out
}

func schemaFromProto(p *pb.ConfigSchemaResponse) Schema {
	var s Schema
	for _, f := range p.GetFields() {
		s.Fields = append(s.Fields, Field{
			Name: f.GetName(), Type: f.GetType(), Description: f.GetDescription(),
			Required: f.GetRequired(), Default: f.GetDefault(), Secret: f.GetSecret(),
		})
	}
	return s
}

func diagnosticsToProto(ds []Diagnostic) []*pb.Diagnostic {
	var out []*pb.Diagnostic
	for _, d := range ds {
		out = append(out, &pb.Diagnostic{
			Severity: pb.Severity(d.Severity), Field: d.Field, Summary: d.Summary, Detail: d.Detail,
		})
	}
	return out
}

func diagnosticsFromProto(ps []*pb.Diagnostic) []Diagnostic {
	var out []Diagnostic
	for _, d := range ps {
		out = append(out, Diagnostic{
			Severity: Severity(d.GetSeverity()), Field: d.GetField(), Summary: d.GetSummary(), Detail: d.GetDetail(),
		})
	}
	return out
}

// ---- frontend ----

func endpointsToProto(es []Endpoint) []*pb.Endpoint {
	var out []*pb.Endpoint
	for _, e := range es {
		out = append(out, &pb.Endpoint{Name: e.Name, Url: e.URL})
	}
	return out
}

func endpointsFromProto(ps []*pb.Endpoint) []Endpoint {
	var out []Endpoint
	for _, e := range ps {
		out = append(out, Endpoint{Name: e.GetName(), URL: e.GetUrl()})
	}
	return out
}

// ---- uploader ----

func uploadRequestToProto(r UploadRequest) *pb.UploadRequest {
	out := &pb.UploadRequest{
		JobId:        r.JobID,
		RecordingId:  r.RecordingID,
		SegmentIndex: int64(r.SegmentIndex),
		SegmentPath:  r.SegmentPath,
		Size:         r.Size,
		Sha256:       r.SHA256,
		Metadata:     mapOrNil(r.Metadata),
		Target:       r.Target,
		Resume:       &pb.Resume{Location: r.Resume.Location, Offset: r.Resume.Offset, State: r.Resume.State},
	}
	if c := r.Credentials; c != nil {
		out.Credentials = &pb.Credentials{Username: c.Username, Password: c.Password}
	}
	return out
}

func uploadRequestFromProto(p *pb.UploadRequest) UploadRequest {
	r := UploadRequest{
		JobID:        p.GetJobId(),
		RecordingID:  p.GetRecordingId(),
		SegmentIndex: int(p.GetSegmentIndex()),
		SegmentPath:  p.GetSegmentPath(),
		Size:         p.GetSize(),
		SHA256:       p.GetSha256(),
		Metadata:     mapOrNil(p.GetMetadata()),
		Target:       p.GetTarget(),
		Resume:       Resume{Location: p.GetResume().GetLocation(), Offset: p.GetResume().GetOffset(), State: p.GetResume().GetState()},
	}
	if c := p.GetCredentials(); c != nil {
		r.Credentials = &Credentials{Username: c.GetUsername(), Password: c.GetPassword()}
	}
	return r
}

func progressToProto(p Progress) *pb.UploadResponse {
	return &pb.UploadResponse{Event: &pb.UploadResponse_Progress{Progress: &pb.Progress{
		Location: p.Location, Offset: p.Offset, Size: p.Size, State: p.State,
	}}}
}

func progressFromProto(p *pb.Progress) Progress {
	return Progress{Location: p.GetLocation(), Offset: p.GetOffset(), Size: p.GetSize(), State: p.GetState()}
}

func resultToProto(r UploadResult) *pb.UploadResponse {
	return &pb.UploadResponse{Event: &pb.UploadResponse_Result{Result: &pb.UploadResult{
		Location: r.Location, Bytes: r.Bytes,
	}}}
}

func resultFromProto(p *pb.UploadResult) UploadResult {
	return UploadResult{Location: p.GetLocation(), Bytes: p.GetBytes()}
}

// ---- engine ----

func sourceToProto(s api.Source) *pb.Source {
	out := &pb.Source{Display: s.Display, Layout: string(s.Layout)}
	for _, ix := range s.Monitors.Indexes {
		out.MonitorIndexes = append(out.MonitorIndexes, int64(ix))
	}
	if r := s.Region; r != (image.Rectangle{}) {
		out.Region = &pb.Rect{MinX: int64(r.Min.X), MinY: int64(r.Min.Y), MaxX: int64(r.Max.X), MaxY: int64(r.Max.Y)}
	}
	return out
}

func sourceFromProto(p *pb.Source) api.Source {
	s := api.Source{Display: p.GetDisplay(), Layout: api.Layout(p.GetLayout())}
	for _, ix := range p.GetMonitorIndexes() {
		s.Monitors.Indexes = append(s.Monitors.Indexes, int(ix))
	}
	if r := p.GetRegion(); r != nil {
		// Not image.Rect, which would canonicalise: the rectangle arrives as it was sent.
		s.Region = image.Rectangle{
			Min: image.Pt(int(r.GetMinX()), int(r.GetMinY())),
			Max: image.Pt(int(r.GetMaxX()), int(r.GetMaxY())),
		}
	}
	return s
}

func startRequestToProto(r api.StartRequest) *pb.EngineStartRequest {
	return &pb.EngineStartRequest{
		Owner:            r.Owner,
		Frontend:         r.Frontend,
		Reason:           r.Reason,
		Source:           sourceToProto(r.Source),
		MaxDurationNanos: int64(r.Limits.MaxDuration),
		Labels:           mapOrNil(r.Labels),
	}
}

func startRequestFromProto(p *pb.EngineStartRequest) api.StartRequest {
	return api.StartRequest{
		Owner:    p.GetOwner(),
		Frontend: p.GetFrontend(),
		Reason:   p.GetReason(),
		Source:   sourceFromProto(p.GetSource()),
		Limits:   api.Limits{MaxDuration: time.Duration(p.GetMaxDurationNanos())},
		Labels:   mapOrNil(p.GetLabels()),
	}
}

// stateToProto encodes a state as its name; an unknown value travels as "State(n)" and is
// refused by the receiver.
func stateToProto(s api.State) string { return s.String() }

func stateFromProto(name string) (api.State, error) { return api.ParseState(name) }

func sessionToProto(s api.Session) *pb.Session {
	out := &pb.Session{
		Id:                s.ID,
		ContactId:         s.ContactID,
		InteractionId:     s.InteractionID,
		Owner:             s.Owner,
		Frontend:          s.Frontend,
		Reason:            s.Reason,
		State:             stateToProto(s.State),
		Error:             s.Error,
		Source:            sourceToProto(s.Source),
		Labels:            mapOrNil(s.Labels),
		Encoder:           s.Encoder,
		CreatedAtUnixNano: timeToProto(s.CreatedAt),
		StartedAtUnixNano: timeToProto(s.StartedAt),
		EndedAtUnixNano:   timeToProto(s.EndedAt),
		DurationNanos:     int64(s.Duration),
		MaskedNanos:       int64(s.Masked),
		Interrupted:       s.Interrupted,
	}
	for _, iv := range s.MaskedIntervals {
		out.MaskedIntervals = append(out.MaskedIntervals, &pb.Interval{StartNanos: int64(iv.Start), EndNanos: int64(iv.End)})
	}
	for _, sg := range s.Segments {
		out.Segments = append(out.Segments, &pb.Segment{
			Index: int64(sg.Index), Path: sg.Path, Bytes: sg.Bytes, Sha256: sg.SHA256, Closed: sg.Closed,
		})
	}
	return out
}

func sessionFromProto(p *pb.Session) (api.Session, error) {
	st, err := stateFromProto(p.GetState())
	if err != nil {
		return api.Session{}, fmt.Errorf("session %s: %w", p.GetId(), err)
	}
	s := api.Session{
		ID:            p.GetId(),
		ContactID:     p.GetContactId(),
		InteractionID: p.GetInteractionId(),
		Owner:         p.GetOwner(),
		Frontend:      p.GetFrontend(),
		Reason:        p.GetReason(),
		State:         st,
		Error:         p.GetError(),
		Source:        sourceFromProto(p.GetSource()),
		Labels:        mapOrNil(p.GetLabels()),
		Encoder:       p.GetEncoder(),
		CreatedAt:     timeFromProto(p.CreatedAtUnixNano),
		StartedAt:     timeFromProto(p.StartedAtUnixNano),
		EndedAt:       timeFromProto(p.EndedAtUnixNano),
		Duration:      time.Duration(p.GetDurationNanos()),
		Masked:        time.Duration(p.GetMaskedNanos()),
		Interrupted:   p.GetInterrupted(),
	}
	for _, iv := range p.GetMaskedIntervals() {
		s.MaskedIntervals = append(s.MaskedIntervals, api.Interval{
			Start: time.Duration(iv.GetStartNanos()), End: time.Duration(iv.GetEndNanos()),
		})
	}
	for _, sg := range p.GetSegments() {
		s.Segments = append(s.Segments, api.SegmentInfo{
			Index: int(sg.GetIndex()), Path: sg.GetPath(), Bytes: sg.GetBytes(), SHA256: sg.GetSha256(), Closed: sg.GetClosed(),
		})
	}
	return s, nil
}

func sessionsToProto(ss []api.Session) []*pb.Session {
	var out []*pb.Session
	for _, s := range ss {
		out = append(out, sessionToProto(s))
	}
	return out
}

func sessionsFromProto(ps []*pb.Session) ([]api.Session, error) {
	var out []api.Session
	for _, p := range ps {
		s, err := sessionFromProto(p)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func listFilterToProto(f api.ListFilter) *pb.EngineListRequest {
	out := &pb.EngineListRequest{Owner: f.Owner, Limit: int64(f.Limit)}
	for _, s := range f.States {
		out.States = append(out.States, stateToProto(s))
	}
	return out
}

func listFilterFromProto(p *pb.EngineListRequest) (api.ListFilter, error) {
	f := api.ListFilter{Owner: p.GetOwner(), Limit: int(p.GetLimit())}
	for _, name := range p.GetStates() {
		s, err := stateFromProto(name)
		if err != nil {
			return api.ListFilter{}, err
		}
		f.States = append(f.States, s)
	}
	return f, nil
}

// eventKindToProto encodes a kind as its name; the zero kind is the empty string and an
// unknown value travels as "EventKind(n)", which the receiver refuses.
func eventKindToProto(k api.EventKind) string {
	if k == 0 {
		return ""
	}
	return k.String()
}

func eventKindFromProto(name string) (api.EventKind, error) {
	var k api.EventKind
	if name == "" {
		return 0, nil
	}
	if err := k.UnmarshalText([]byte(name)); err != nil {
		return 0, err
	}
	return k, nil
}

func eventToProto(e api.Event) *pb.Event {
	out := &pb.Event{
		Kind:         eventKindToProto(e.Kind),
		TimeUnixNano: timeToProto(e.Time),
		SessionId:    e.SessionID,
		From:         stateToProto(e.From),
		To:           stateToProto(e.To),
		Reason:       e.Reason,
		Pipeline:     e.Pipeline,
		Encoder:      e.Encoder,
		Dropped:      int64(e.Dropped),
	}
	if sg := e.Segment; sg != nil {
		out.Segment = &pb.SegmentEvent{Index: int64(sg.Index), Path: sg.Path, Bytes: sg.Bytes, Sha256: sg.SHA256}
	}
	return out
}

func eventFromProto(p *pb.Event) (api.Event, error) {
	kind, err := eventKindFromProto(p.GetKind())
	if err != nil {
		return api.Event{}, err
	}
	from, err := stateFromProto(p.GetFrom())
	if err != nil {
		return api.Event{}, err
	}
	to, err := stateFromProto(p.GetTo())
	if err != nil {
		return api.Event{}, err
	}
	e := api.Event{
		Kind:      kind,
		Time:      timeFromProto(p.TimeUnixNano),
		SessionID: p.GetSessionId(),
		From:      from,
		To:        to,
		Reason:    p.GetReason(),
		Pipeline:  p.GetPipeline(),
		Encoder:   p.GetEncoder(),
		Dropped:   int(p.GetDropped()),
	}
	if sg := p.GetSegment(); sg != nil {
		e.Segment = &api.SegmentEvent{Index: int(sg.GetIndex()), Path: sg.GetPath(), Bytes: sg.GetBytes(), SHA256: sg.GetSha256()}
	}
	return e, nil
}
