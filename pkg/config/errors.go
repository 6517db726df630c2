package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/screenrec/recorder/pkg/listenaddr"
)

// Sentinel errors. Every problem with a configuration is an *Error, which wraps ErrInvalid and
// one of the more specific sentinels below; classify with errors.Is, never with ==.
var (
	// ErrInvalid: the configuration cannot be used. Every *Error wraps it.
	ErrInvalid = errors.New("invalid config")
	// ErrSyntax: the file is not well-formed YAML (or holds more than one document).
	ErrSyntax = errors.New("YAML syntax error")
	// ErrUnknownKey: a key the schema does not have (a typo, usually); decoding is strict.
	ErrUnknownKey = errors.New("unknown key")
	// ErrWrongType: a value of the wrong kind, such as a string where an integer belongs or a
	// mapping where a list belongs.
	ErrWrongType = errors.New("wrong type")
	// ErrBadValue: a value of the right kind that is out of range, malformed or missing.
	ErrBadValue = errors.New("bad value")
	// ErrEnv: an environment override (RECORDER_*) that does not parse or names an adapter
	// that is not configured.
	ErrEnv = errors.New("bad environment override")
	// ErrSecret: a secret reference ({env: NAME} or {file: PATH}) that is malformed or cannot
	// be resolved.
	ErrSecret = errors.New("bad secret reference")
	// ErrBadListen: a listen address that is not host:port (ValidateListen). It is not an
	// *Error: plugins and the host wrap it in their own diagnostics.
	ErrBadListen = listenaddr.ErrBad
)

// Error is one problem with a configuration, returned as data: where it is (file and line,
// environment variable, field path) and what is wrong. Error renders it on one line, e.g.
//
//	configs/x.yaml:7: engine.fps: 0 is out of range 1-60
//	configs/x.yaml:3: engine.fpss: unknown key; did you mean "fps"?
//	$RECORDER_ENGINE_FPS: engine.fps: "abc" is not an integer
type Error struct {
	// File is the config file's name as given to Load or Parse ("" when not known or when
	// the value came from the environment).
	File string
	// Line is the 1-based line in File of the offending key or value (0: not in the file,
	// e.g. a default or an environment value).
	Line int
	// Env is the environment variable the value came from ("" if it came from the file).
	Env string
	// Path names the field: "engine.fps", "frontends[1].name", "uploaders[0].config.password"
	// ("" for the document as a whole).
	Path string
	// Msg says what is wrong.
	Msg string
	// Kind is the specific sentinel (ErrSyntax, ErrUnknownKey, ErrWrongType, ErrBadValue,
	// ErrEnv or ErrSecret).
	Kind error
}

// Error renders the problem on one line: "file:line: $VAR: path: message", leaving out the
// parts that are empty.
func (e *Error) Error() string {
	var parts []string
	loc := e.File
	if e.Line > 0 {
		if loc == "" {
			loc = "line " + strconv.Itoa(e.Line)
		} else {
			loc += ":" + strconv.Itoa(e.Line)
		}
	}
	for _, p := range []string{loc, envPart(e.Env), e.Path, oneLine(e.Msg)} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ": ")
}

// Unwrap returns ErrInvalid and Kind, so errors.Is matches either.
func (e *Error) Unwrap() []error {
	if e.Kind == nil || e.Kind == ErrInvalid {
		return []error{ErrInvalid}
	}
	return []error{ErrInvalid, e.Kind}
}

func envPart(name string) string {
	if name == "" {
		return ""
	}
	return "$" + name
}

// oneLine keeps a message on one line whatever it quotes.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' })
	for i := range fields {
		fields[i] = strings.TrimSpace(fields[i])
	}
	return strings.Join(fields, "; ")
}

// valueErr is the usual validation problem: a bad value at path.
func valueErr(path, format string, args ...any) *Error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...), Kind: ErrBadValue}
}
