// Package sdk is the contract between the recorder and its adapters: front ends that drive the
// engine and uploaders that ship recordings. Adapters implement the plain Go interfaces here;
// the same implementation runs in-process (embedded by an OEM or the recorder itself) or as a
// hashicorp/go-plugin subprocess, behind gRPC shims that never appear in these signatures.
// Frames never cross it: plugins get control calls and events, and recordings by path.
package sdk

import (
	"context"

	"github.com/screenrec/recorder/engine/api"
)

// Kind is a plugin kind.
type Kind string

// The plugin kinds.
const (
	KindFrontend Kind = "frontend"
	KindUploader Kind = "uploader"
)

// ProtocolVersion is the plugin protocol's major version, also in the proto package name
// (recorder.plugin.v1). Released protos are never edited: a breaking change is a new version.
const ProtocolVersion = 1

// Info identifies a plugin.
type Info struct {
	// Name is the plugin's name ("srs", "rws", …), unique per kind.
	Name string `json:"name"`
	// Kind is frontend or uploader.
	Kind Kind `json:"kind"`
	// Version is the plugin's own version.
	Version string `json:"version"`
}

// Field describes one key of a plugin's config section.
type Field struct {
	// Name is the key.
	Name string `json:"name"`
	// Type is one of FieldTypes.
	Type string `json:"type"`
	// Description says what it is for.
	Description string `json:"description,omitempty"`
	// Required fields must be set.
	Required bool `json:"required,omitempty"`
	// Default is the value used when the key is absent, as text.
	Default string `json:"default,omitempty"`
	// Secret fields may only be given by reference (an env var or file), never inline.
	Secret bool `json:"secret,omitempty"`
}

// FieldTypes are the types a Field may have: text, whole numbers, numbers, true/false,
// durations ("60s"), byte sizes ("4MiB"), lists, mappings, and any value.
var FieldTypes = []string{"string", "int", "number", "bool", "duration", "size", "list", "map", "any"}

// Schema describes a plugin's config section.
type Schema struct {
	Fields []Field `json:"fields"`
}

// Severity grades a Diagnostic.
type Severity int

// Severities.
const (
	SeverityError Severity = iota + 1
	SeverityWarning
)

// Diagnostic is a problem with a plugin's config that the user must fix, as data: which field,
// what is wrong, and more detail.
type Diagnostic struct {
	Severity Severity `json:"severity"`
	// Field is the path of the key at fault inside the plugin's config section (e.g. "listen",
	// "origins[2]"); empty for the section as a whole.
	Field   string `json:"field,omitempty"`
	Summary string `json:"summary"`
	Detail  string `json:"detail,omitempty"`
}

// Plugin is what every plugin serves, whatever its kind.
type Plugin interface {
	// Info identifies the plugin.
	Info(ctx context.Context) (Info, error)
	// ConfigSchema describes the plugin's config section.
	ConfigSchema(ctx context.Context) (Schema, error)
	// Configure checks and applies the plugin's config section, given as JSON. Diagnostics of
	// SeverityError mean it was refused and the previous config is kept. The error is for
	// failures other than bad config.
	Configure(ctx context.Context, config []byte) ([]Diagnostic, error)
}

// Engine is the engine API a front end drives. The host implements it (with the engine
// itself, or over the go-plugin broker for a plugin process); errors keep the engine's
// sentinels (api.ErrBusy, api.ErrNotFound, …) across the boundary.
type Engine interface {
	Start(ctx context.Context, req api.StartRequest) (api.Session, error)
	Stop(ctx context.Context, id string) (api.Session, error)
	Mask(ctx context.Context, target api.MaskTarget, on bool) ([]api.Session, error)
	Get(ctx context.Context, id string) (api.Session, error)
	List(ctx context.Context, f api.ListFilter) ([]api.Session, error)
	// Events streams engine events until ctx ends; the channel is closed then.
	Events(ctx context.Context) (<-chan api.Event, error)
	// SetUploadAuth lends an agent's own credentials (and RWS servers) to the uploads of
	// their recordings (nil: back to the uploader's own account). Memory only.
	SetUploadAuth(ctx context.Context, owner string, auth *api.UploadAuth) error
}

// Endpoint is an address a front end listens on.
type Endpoint struct {
	// Name says what it serves ("api", "https", …).
	Name string `json:"name"`
	// URL is where, e.g. http://127.0.0.1:18080.
	URL string `json:"url"`
}

// Frontend serves an API (HTTP, usually) that drives the engine.
type Frontend interface {
	Plugin
	// Serve starts serving with eng and returns once it listens, with where. It must be
	// configured first. Serving goes on until Stop; ctx only bounds getting started.
	Serve(ctx context.Context, eng Engine) ([]Endpoint, error)
	// Stop stops accepting requests and returns once those in flight are done or ctx ends.
	// It is idempotent.
	Stop(ctx context.Context) error
}

// The upload types are the engine's (package api), so that its upload scheduler can drive any
// uploader without importing the plugin SDK.
type (
	// Credentials authenticate an upload.
	Credentials = api.Credentials
	// Resume is where an earlier attempt of an upload got to.
	Resume = api.Resume
	// UploadRequest hands an uploader one segment.
	UploadRequest = api.UploadRequest
	// Progress reports what the server has confirmed so far.
	Progress = api.Progress
	// UploadResult is a finished upload.
	UploadResult = api.UploadResult
)

// Uploader ships segments somewhere. It holds no durable state: the host keeps the queue and
// passes Resume back in.
type Uploader interface {
	Plugin
	// Upload sends one segment, calling progress as the server confirms bytes. An error
	// wrapping ErrPermanent is not retried.
	Upload(ctx context.Context, req UploadRequest, progress func(Progress)) (UploadResult, error)
}
