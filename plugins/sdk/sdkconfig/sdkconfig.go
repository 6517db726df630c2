// Package sdkconfig gives an adapter its config handling from one declaration: a Go struct
// whose fields carry tags (see package decl for the scheme),
//
//	type Config struct {
//		Listen  string        `cfg:"listen" desc:"host:port of the HTTP listener"`
//		Timeout time.Duration `cfg:"timeout" min:"100ms" max:"1m" desc:"bound on each request"`
//		Token   string        `cfg:"token,required,secret" desc:"the API token"`
//	}
//
// from which come strict decoding of the JSON config section (Decoder.Decode: unknown keys,
// wrong types, values out of bounds and missing required keys are diagnostics naming the
// path, "agents[0].display: unknown key; did you mean \"displays\"?"), the schema
// ConfigSchema returns (Schema, which `recorder plugins --json` prints and whose secret keys
// the host checks are references), and the reading of environment overrides: the host passes
// a RECORDER_FRONTENDS_<NAME>_<KEY> value as a string, which Decode reads as the key's type
// ("3", "true", "60s", "a,b"). Checks that need more than one key stay in the adapter,
// reported with Errorf and Warnf. It has no dependencies beyond the SDK and package decl.
package sdkconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/screenrec/recorder/pkg/config/decl"
	"github.com/screenrec/recorder/plugins/sdk"
)

// Decoder collects diagnostics while a config section is decoded and checked. The zero
// value is ready.
type Decoder struct {
	Diags []sdk.Diagnostic
}

// Decode decodes raw, a JSON config section, into cfg, a pointer to a declared struct that
// holds the defaults; absent or null keys (and an empty or null section) keep them. Every
// problem is reported as an error at its path. Values may also be written in the text forms
// environment overrides give: numbers and booleans as strings, lists as one comma-separated
// string. It reports whether the section decoded without error.
func (d *Decoder) Decode(raw []byte, cfg any) bool {
	probs := decl.DecodeJSON(raw, cfg, decl.Options{TextForms: true})
	for _, p := range probs {
		d.Errorf(p.Path, p.Summary, "%s", p.Detail)
	}
	return len(probs) == 0
}

// Errorf reports a problem that refuses the config. A field keeps its first error: a check
// of a value that did not decode adds nothing.
func (d *Decoder) Errorf(field, summary, format string, args ...any) {
	if d.HasError(field) {
		return
	}
	d.Diags = append(d.Diags, sdk.Diagnostic{Severity: sdk.SeverityError, Field: field, Summary: summary,
		Detail: fmt.Sprintf(format, args...)})
}

// Warnf reports something the user should know that does not refuse the config.
func (d *Decoder) Warnf(field, summary, format string, args ...any) {
	d.Diags = append(d.Diags, sdk.Diagnostic{Severity: sdk.SeverityWarning, Field: field, Summary: summary,
		Detail: fmt.Sprintf(format, args...)})
}

// Failed reports whether any error was reported.
func (d *Decoder) Failed() bool {
	return slices.ContainsFunc(d.Diags, func(g sdk.Diagnostic) bool { return g.Severity == sdk.SeverityError })
}

// HasError reports whether field has an error.
func (d *Decoder) HasError(field string) bool {
	return slices.ContainsFunc(d.Diags, func(g sdk.Diagnostic) bool {
		return g.Severity == sdk.SeverityError && g.Field == field
	})
}

// Schema describes the config section declared by defaults, a struct value holding the
// defaults: one field per key, in declaration order, each followed by the secret keys inside
// it ("signing_keys[].key"), which the host checks are references wherever they appear.
// Bounds are added to descriptions.
func Schema(defaults any) sdk.Schema {
	var s sdk.Schema
	for _, f := range decl.Fields(defaults) {
		s.Fields = append(s.Fields, schemaField(f, f.Name))
		s.Fields = append(s.Fields, nestedSecrets(f.Fields)...)
	}
	return s
}

func nestedSecrets(fields []decl.Field) []sdk.Field {
	var out []sdk.Field
	for _, f := range fields {
		if f.Secret {
			// Required applies within each item, not to the section: not said here.
			sf := schemaField(f, f.Path)
			sf.Required = false
			out = append(out, sf)
		}
		out = append(out, nestedSecrets(f.Fields)...)
	}
	return out
}

func schemaField(f decl.Field, name string) sdk.Field {
	desc := f.Description
	switch {
	case f.Min != "" && f.Max != "":
		desc += fmt.Sprintf(" (%s to %s)", f.Min, f.Max)
	case f.Min != "":
		desc += fmt.Sprintf(" (at least %s)", f.Min)
	case f.Max != "":
		desc += fmt.Sprintf(" (at most %s)", f.Max)
	}
	return sdk.Field{Name: name, Type: string(f.Kind), Description: desc, Required: f.Required,
		Default: f.Default, Secret: f.Secret}
}

// IsNull reports whether raw is absent or JSON null: a key left at its default.
func IsNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// KindOf names the JSON type of raw for messages.
func KindOf(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
