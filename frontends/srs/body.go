package srs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/screenrec/recorder/frontends/httpkit"
	"github.com/screenrec/recorder/plugins/sdk/sdkconfig"
)

// MaxBody is the largest request body accepted (64 KiB); larger ones are answered 413.
const MaxBody = httpkit.MaxBody

// OperationEndSession is the operationName of a logout.
const OperationEndSession = "EndContactCenterSession"

// loginConfig is a login body: the items of the JSON array, checked.
type loginConfig struct {
	server     string
	peerServer string
	place      string // empty: the agent's default place
	devices    []Device
}

// readJSONBody checks the Content-Type and reads r's body (at most MaxBody bytes: the
// server caps it, and answers 413 beyond).
func readJSONBody(r *http.Request) ([]byte, error) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || !(mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		if ct == "" {
			ct = "none"
		}
		return nil, apiErrorf(http.StatusUnsupportedMediaType, "Content-Type must be application/json, not %s", ct)
	}
	return httpkit.ReadBody(r)
}

// meBody is a decoded POST /api/v2/me body: a login (an array of items) or an operation.
type meBody struct {
	login     *loginConfig
	operation string
}

// parseMeBody decodes a POST /api/v2/me body: a JSON array of {"name","value"} items (a login)
// or an object {"operationName": ...} (EndContactCenterSession is the only operation).
func parseMeBody(b []byte) (meBody, error) {
	var raw json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&raw); err != nil {
		return meBody{}, apiErrorf(http.StatusBadRequest, "malformed JSON: %v", err)
	}
	if dec.More() || dec.InputOffset() < int64(len(bytes.TrimRight(b, " \t\r\n"))) {
		return meBody{}, apiErrorf(http.StatusBadRequest, "malformed JSON: data after the top-level value")
	}
	switch raw[0] {
	case '[':
		lc, err := parseLogin(raw)
		return meBody{login: lc}, err
	case '{':
		var m map[string]json.RawMessage
		_ = json.Unmarshal(raw, &m)
		op, ok := m["operationName"]
		if !ok {
			return meBody{}, apiErrorf(http.StatusBadRequest, `body must be a JSON array of {"name", "value"} items (a login) or {"operationName": %q} (a logout)`, OperationEndSession)
		}
		var name string
		if json.Unmarshal(op, &name) != nil {
			return meBody{}, apiErrorf(http.StatusBadRequest, "operationName must be a string, not %s", sdkconfig.KindOf(op))
		}
		if name != OperationEndSession {
			return meBody{}, apiErrorf(http.StatusBadRequest, "unknown operationName %q: the only operation is %s", name, OperationEndSession)
		}
		return meBody{operation: name}, nil
	}
	return meBody{}, apiErrorf(http.StatusBadRequest, `body must be a JSON array of {"name", "value"} items, not %s`, sdkconfig.KindOf(raw))
}

// parseLogin checks the items of a login body (see the spec's table): server required,
// peer_server optional, both absolute http(s) URLs; place a non-empty string; devices an
// array of {"dn", "switch"} with both non-empty, only together with place. Unknown names are
// ignored; a name given twice is refused.
func parseLogin(raw json.RawMessage) (*loginConfig, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, apiErrorf(http.StatusBadRequest, "malformed JSON: %v", err)
	}
	lc := &loginConfig{}
	seen := map[string]bool{}
	var hasDevices bool
	for i, it := range items {
		var item map[string]json.RawMessage
		if json.Unmarshal(it, &item) != nil || item == nil {
			return nil, apiErrorf(http.StatusBadRequest, `item %d: want an object {"name": ..., "value": ...}, not %s`, i, sdkconfig.KindOf(it))
		}
		var name string
		if json.Unmarshal(item["name"], &name) != nil || name == "" {
			return nil, apiErrorf(http.StatusBadRequest, "item %d: name must be a non-empty string", i)
		}
		what := fmt.Sprintf("item %d (%s)", i, name)
		switch name {
		case "server", "peer_server", "place", "devices":
		default:
			continue // unknown names are ignored (forward compatibility)
		}
		if seen[name] {
			return nil, apiErrorf(http.StatusBadRequest, "%s: %s is given twice", what, name)
		}
		seen[name] = true
		value, ok := item["value"]
		if !ok {
			return nil, apiErrorf(http.StatusBadRequest, "%s: missing value", what)
		}
		switch name {
		case "server", "peer_server":
			var s string
			if json.Unmarshal(value, &s) != nil {
				return nil, apiErrorf(http.StatusBadRequest, "%s: value must be a URL string, not %s", what, sdkconfig.KindOf(value))
			}
			if err := checkServerURL(s); err != nil {
				return nil, apiErrorf(http.StatusBadRequest, "%s: %v", what, err)
			}
			if name == "server" {
				lc.server = s
			} else {
				lc.peerServer = s
			}
		case "place":
			if json.Unmarshal(value, &lc.place) != nil || lc.place == "" {
				return nil, apiErrorf(http.StatusBadRequest, "%s: value must be a non-empty string, not %s", what, sdkconfig.KindOf(value))
			}
		case "devices":
			var devs []json.RawMessage
			if json.Unmarshal(value, &devs) != nil || devs == nil {
				return nil, apiErrorf(http.StatusBadRequest, `%s: value must be an array of {"dn", "switch"} objects, not %s`, what, sdkconfig.KindOf(value))
			}
			lc.devices = make([]Device, 0, len(devs))
			for j, dr := range devs {
				var dm map[string]json.RawMessage
				if json.Unmarshal(dr, &dm) != nil || dm == nil {
					return nil, apiErrorf(http.StatusBadRequest, `%s: device %d must be an object {"dn", "switch"}, not %s`, what, j, sdkconfig.KindOf(dr))
				}
				var dev Device
				if json.Unmarshal(dm["dn"], &dev.DN) != nil || dev.DN == "" {
					return nil, apiErrorf(http.StatusBadRequest, "%s: device %d: dn must be a non-empty string", what, j)
				}
				if json.Unmarshal(dm["switch"], &dev.Switch) != nil || dev.Switch == "" {
					return nil, apiErrorf(http.StatusBadRequest, "%s: device %d: switch must be a non-empty string", what, j)
				}
				lc.devices = append(lc.devices, dev)
			}
			hasDevices = true
		}
	}
	if !seen["server"] {
		return nil, apiErrorf(http.StatusBadRequest, `server is required: add {"name": "server", "value": "https://rws.example.com"}`)
	}
	if hasDevices && lc.place == "" {
		return nil, apiErrorf(http.StatusBadRequest, "devices without place: devices belong to the place the agent chose")
	}
	return lc, nil
}
