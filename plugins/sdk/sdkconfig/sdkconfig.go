// Package sdkconfig decodes a plugin's JSON config section strictly, reporting every problem
// as an sdk.Diagnostic that names its field path ("origins[1]", "agents[0].display"), so that
// every adapter refuses bad config the same way. It has no dependencies beyond the SDK.
package sdkconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/screenrec/recorder/plugins/sdk"
)

// Decoder collects diagnostics while a config section is decoded. The zero value is ready.
type Decoder struct {
	Diags []sdk.Diagnostic
}

// Errorf reports a problem that refuses the config.
func (d *Decoder) Errorf(field, summary, format string, args ...any) {
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

// IsNull reports whether raw is absent or JSON null: a key left at its default.
func IsNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// Join makes the path of key inside field.
func Join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
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

// Object decodes raw as a JSON object, reporting keys that are not in known (strict decoding).
func (d *Decoder) Object(field string, raw json.RawMessage, known []string) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		what := "the config section"
		if field != "" {
			what = field
		}
		d.Errorf(field, "not an object", "%s must be a JSON object, got %s", what, KindOf(raw))
		return nil, false
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(known, k) {
			d.Errorf(Join(field, k), "unknown key", "%q is not a key here; known keys: %s", k, strings.Join(known, ", "))
		}
	}
	return m, true
}

// Str decodes a string; absent or null leaves dst alone.
func (d *Decoder) Str(field string, raw json.RawMessage, dst *string) bool {
	if IsNull(raw) {
		return true
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		d.Errorf(field, "not a string", "want a string, got %s", KindOf(raw))
		return false
	}
	return true
}

// Bool decodes a boolean; absent or null leaves dst alone.
func (d *Decoder) Bool(field string, raw json.RawMessage, dst *bool) {
	if IsNull(raw) {
		return
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		d.Errorf(field, "not a boolean", "want true or false, got %s", KindOf(raw))
	}
}

// Section decodes a whole config section: absent or null is an empty object, anything but
// an object is reported, and keys not in known are reported.
func (d *Decoder) Section(raw []byte, known []string) map[string]json.RawMessage {
	if IsNull(raw) {
		return map[string]json.RawMessage{}
	}
	m, _ := d.Object("", raw, known)
	return m
}

// Duration decodes a duration string ("60s", "500ms") within [lo, hi]; absent or null leaves
// dst alone.
func (d *Decoder) Duration(field string, raw json.RawMessage, dst *time.Duration, lo, hi time.Duration) {
	if IsNull(raw) {
		return
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		d.Errorf(field, "not a duration", `want a duration string such as "60s", got %s`, KindOf(raw))
		return
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.Errorf(field, "not a duration", `want a duration such as "60s" or "500ms": %v`, err)
		return
	}
	if v < lo || v > hi {
		d.Errorf(field, "duration out of range", "%s is outside %s to %s", v, lo, hi)
		return
	}
	*dst = v
}

// List decodes raw as a JSON array; absent or null is empty. ok is false when raw is not an
// array (which is reported).
func (d *Decoder) List(field string, raw json.RawMessage, what string) (items []json.RawMessage, ok bool) {
	if IsNull(raw) {
		return nil, true
	}
	if err := json.Unmarshal(raw, &items); err != nil {
		d.Errorf(field, "not a list", "want a list of %s, got %s", what, KindOf(raw))
		return nil, false
	}
	return items, true
}

// StrList decodes a list of strings, also accepted as one comma-separated string (the form an
// environment override gives).
func (d *Decoder) StrList(field string, raw json.RawMessage) []string {
	if IsNull(raw) {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		var out []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	items, ok := d.List(field, raw, "strings")
	if !ok {
		return nil
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		var v string
		if json.Unmarshal(it, &v) != nil {
			d.Errorf(fmt.Sprintf("%s[%d]", field, i), "not a string", "want a string, got %s", KindOf(it))
			continue
		}
		out = append(out, v)
	}
	return out
}
