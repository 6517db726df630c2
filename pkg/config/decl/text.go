package decl

import (
	"fmt"
	"strconv"
	"strings"
)

// FromText turns text written for key f (an environment variable's value) into the value
// Decode takes for it:
//
//   - strings, durations and sizes: the text as it is (Decode parses durations and sizes);
//   - integers, numbers and booleans (true/false, 1/0): parsed;
//   - lists: comma-separated items, each trimmed ("h264_vaapi, libx264");
//   - maps: comma-separated key=value pairs ("crf=28,preset=fast");
//   - secret keys: the reference {env: name}, name being the variable that holds the secret.
//
// Errors say what the text should be and quote it.
func FromText(f Field, name, text string) (any, error) {
	if f.Secret {
		return map[string]any{"env": name}, nil
	}
	switch f.Kind {
	case KindInt:
		n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", text)
		}
		return n, nil
	case KindNumber:
		x, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", text)
		}
		return x, nil
	case KindBool:
		b, err := strconv.ParseBool(strings.TrimSpace(text))
		if err != nil {
			return nil, fmt.Errorf("%q is not a boolean (true or false)", text)
		}
		return b, nil
	case KindList:
		var items []any
		for _, s := range strings.Split(text, ",") {
			items = append(items, strings.TrimSpace(s))
		}
		return items, nil
	case KindMap:
		m := map[string]any{}
		for _, s := range strings.Split(text, ",") {
			k, v, ok := strings.Cut(s, "=")
			if !ok || strings.TrimSpace(k) == "" {
				return nil, fmt.Errorf("%q is not a list of key=value pairs (e.g. \"crf=28,preset=fast\")", text)
			}
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		return m, nil
	}
	return text, nil
}

// Nest makes the tree that sets only the key at path ("engine.fps") to v, for Decode.
func Nest(path string, v any) map[string]any {
	keys := strings.Split(path, ".")
	for i := len(keys) - 1; i > 0; i-- {
		v = map[string]any{keys[i]: v}
	}
	return map[string]any{keys[0]: v}
}
