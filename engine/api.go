package engine

import "github.com/screenrec/recorder/engine/api"

// The engine's API types live in package api (no cgo, so adapters and plugins can use them
// without linking FFmpeg); they are re-exported here so that embedders need one import.
type (
	// State is a session's state; see api.State for the diagram.
	State = api.State
	// Event is something the engine reports; see api.Event.
	Event = api.Event
	// EventKind says what an Event reports.
	EventKind = api.EventKind
	// SegmentEvent describes a sealed segment file.
	SegmentEvent = api.SegmentEvent
	// Source says what a session records.
	Source = api.Source
	// Limits bound a session.
	Limits = api.Limits
	// StartRequest asks for a recording.
	StartRequest = api.StartRequest
	// Interval is a span of a recording.
	Interval = api.Interval
	// SegmentInfo describes one file of a recording.
	SegmentInfo = api.SegmentInfo
	// Session is a snapshot of a recording session.
	Session = api.Session
	// MaskTarget says whose recordings Mask applies to.
	MaskTarget = api.MaskTarget
	// ListFilter selects sessions for List.
	ListFilter = api.ListFilter
	// UploadAuth is an agent's own credentials for the uploads of their recordings.
	UploadAuth = api.UploadAuth
	// AlreadyRecordingError carries the session an owner already has from a front end.
	AlreadyRecordingError = api.AlreadyRecordingError
	// UploadJob is one segment's upload to one target.
	UploadJob = api.UploadJob
	// UploadState is an upload job's state.
	UploadState = api.UploadState
	// UploadFilter selects upload jobs for Uploads.
	UploadFilter = api.UploadFilter
	// Layout says how a session's monitors become video tracks.
	Layout = api.Layout
	// Selection selects monitors by index (empty: all).
	Selection = api.Selection
	// Track is one video track of a recording.
	Track = api.Track
	// Uploader ships one segment somewhere; RunUploads drives it.
	Uploader = api.Uploader
	// FailureKind says why an upload attempt failed (refused, reset, timeout, …).
	FailureKind = api.FailureKind
	// Counters are the engine's own counters (frames, bytes, CPU), for a console's chart.
	Counters = api.Counters
	// UploadRequest hands an uploader one segment.
	UploadRequest = api.UploadRequest
	// UploadResult is a finished upload.
	UploadResult = api.UploadResult
	// Progress reports what an upload's server has confirmed so far.
	Progress = api.Progress
	// Resume is where an earlier attempt of an upload got to.
	Resume = api.Resume
	// Credentials authenticate an upload.
	Credentials = api.Credentials
)

// The layouts.
const (
	LayoutCanvas = api.LayoutCanvas
	LayoutTracks = api.LayoutTracks
)

// The capture methods (Config.CaptureMethod).
const (
	CaptureAuto    = api.CaptureAuto
	CaptureXShm    = api.CaptureXShm
	CaptureX11Grab = api.CaptureX11Grab
)

// The frame rates (Config.FPS) and the default of Config.MaxFrameGap.
const (
	DefaultFPS         = api.DefaultFPS
	MinFPS             = api.MinFPS
	MaxFPS             = api.MaxFPS
	DefaultMaxFrameGap = api.DefaultMaxFrameGap
)

// The upload job states.
const (
	UploadQueued   = api.UploadQueued
	UploadRunning  = api.UploadRunning
	UploadUploaded = api.UploadUploaded
	UploadFailed   = api.UploadFailed
)

// The session states.
const (
	StateIdle       = api.StateIdle
	StateStarting   = api.StateStarting
	StateRecording  = api.StateRecording
	StateMasked     = api.StateMasked
	StateStopping   = api.StateStopping
	StateFinalizing = api.StateFinalizing
	StateCompleted  = api.StateCompleted
	StateFailed     = api.StateFailed
)

// The event kinds.
const (
	EventStateChanged       = api.EventStateChanged
	EventSegmentClosed      = api.EventSegmentClosed
	EventRecordingCompleted = api.EventRecordingCompleted
	EventRecordingFailed    = api.EventRecordingFailed
	EventWarning            = api.EventWarning
	EventPipelineOpened     = api.EventPipelineOpened
	EventPipelineClosed     = api.EventPipelineClosed
)

// The sentinel errors (the same values as api's, so errors.Is works with either).
var (
	ErrNotFound          = api.ErrNotFound
	ErrBusy              = api.ErrBusy
	ErrAlreadyRecording  = api.ErrAlreadyRecording
	ErrIllegalTransition = api.ErrIllegalTransition
	ErrTerminal          = api.ErrTerminal
	ErrTooManySessions   = api.ErrTooManySessions
	ErrSpoolQuota        = api.ErrSpoolQuota
	ErrDiskFull          = api.ErrDiskFull
	ErrInvalidRequest    = api.ErrInvalidRequest
	ErrClosed            = api.ErrClosed
	ErrPermanent         = api.ErrPermanent
	ErrBadSelection      = api.ErrBadSelection
	ErrBadLayout         = api.ErrBadLayout
	ErrRefused           = api.ErrRefused
	ErrReset             = api.ErrReset
	ErrTimeout           = api.ErrTimeout
	ErrTLS               = api.ErrTLS
	ErrDNS               = api.ErrDNS
	ErrHTTP              = api.ErrHTTP
	ErrChecksum          = api.ErrChecksum
	ErrAuth              = api.ErrAuth
)

// The kinds of upload failure.
const (
	FailureRefused  = api.FailureRefused
	FailureReset    = api.FailureReset
	FailureTimeout  = api.FailureTimeout
	FailureTLS      = api.FailureTLS
	FailureDNS      = api.FailureDNS
	FailureHTTP     = api.FailureHTTP
	FailureChecksum = api.FailureChecksum
	FailureAuth     = api.FailureAuth
	FailureCanceled = api.FailureCanceled
	FailureOther    = api.FailureOther
)

// ClassifyFailure says what kind of upload failure err is (see api.ClassifyFailure).
func ClassifyFailure(err error) FailureKind { return api.ClassifyFailure(err) }

// WrapFailure wraps err with its kind's sentinel (see api.WrapFailure).
func WrapFailure(err error) error { return api.WrapFailure(err) }

// FailureKinds lists every failure kind.
func FailureKinds() []FailureKind { return api.FailureKinds() }

// FailureSentinels returns the failure sentinels by kind.
func FailureSentinels() map[FailureKind]error { return api.FailureSentinels() }

// ParseLayout parses a layout's name ("" is canvas).
func ParseLayout(s string) (Layout, error) { return api.ParseLayout(s) }

// ParseSelection parses a monitor selection ("all", "" or indexes such as "0,2").
func ParseSelection(s string) (Selection, error) { return api.ParseSelection(s) }

// CaptureMethods lists the capture methods.
func CaptureMethods() []string { return api.CaptureMethods() }

// UploadStates lists every upload state, in the order a job passes through them.
func UploadStates() []UploadState { return api.UploadStates() }

// ParseState parses a state's name.
func ParseState(name string) (State, error) { return api.ParseState(name) }

// CanTransition reports whether a session may move from one state to another.
func CanTransition(from, to State) bool { return api.CanTransition(from, to) }

// LabelContactID is the label of a contact id allocated outside the engine (see
// api.LabelContactID).
const LabelContactID = api.LabelContactID

// ContactIDOf returns the contact id the world outside the machine knows a recording by (see
// api.ContactIDOf).
func ContactIDOf(own int64, labels map[string]string) int64 { return api.ContactIDOf(own, labels) }
