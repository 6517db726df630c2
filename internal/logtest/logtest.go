// Package logtest reads JSON log lines the way a test of their shape needs.
package logtest

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Keys returns the top-level keys of a JSON object in order, repeats included (which
// decoding into a map would hide).
func Keys(line string) ([]string, error) {
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not an object (%v)", err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
	}
	return keys, nil
}
