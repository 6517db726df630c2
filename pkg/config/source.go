package config

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// source remembers where a config's values came from — the file's lines per field path and
// the environment variables that overrode fields — so errors found after decoding (by
// validation, environment parsing, secret resolution) can cite them.
type source struct {
	file  string
	nodes []nodePos         // every key and value of the file, in document order
	lines map[string]int    // field path → line of its key (of the item, for list items)
	env   map[string]string // field path → environment variable that set it
}

type nodePos struct {
	path string
	key  bool
	node *yaml.Node
}

// index records every node of the document with its field path.
func (s *source) index(root *yaml.Node) {
	s.lines = map[string]int{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		s.nodes = append(s.nodes, nodePos{path: path, node: n})
		if _, ok := s.lines[path]; !ok && path != "" {
			s.lines[path] = n.Line
		}
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := joinPath(path, k.Value)
				s.nodes = append(s.nodes, nodePos{path: p, key: true, node: k})
				if _, ok := s.lines[p]; !ok {
					s.lines[p] = k.Line
				}
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
	walk(root, "")
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// parentPath strips the last ".key" or "[i]" from path ("" at the top).
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// setByEnv records that the environment variable name set the field at path.
func (s *source) setByEnv(path, name string) {
	if s.env == nil {
		s.env = map[string]string{}
	}
	s.env[path] = name
}

// locate fills in where e came from: the environment variable that set its field (or a
// parent of it), otherwise the file and the line of the field or of its nearest parent that
// is in the file.
func (s *source) locate(e *Error) *Error {
	if s == nil || e.File != "" || e.Env != "" {
		return e
	}
	for p := e.Path; p != ""; p = parentPath(p) {
		if v, ok := s.env[p]; ok {
			e.Env = v
			return e
		}
	}
	e.File = s.file
	if e.Line == 0 {
		for p := e.Path; p != ""; p = parentPath(p) {
			if l, ok := s.lines[p]; ok {
				e.Line = l
				break
			}
		}
	}
	return e
}

// find returns the path of the node on line that is a key (or a value) and satisfies match,
// the first in document order, or ok=false.
func (s *source) find(line int, key bool, match func(*yaml.Node) bool) (string, bool) {
	for _, np := range s.nodes {
		if np.node.Line == line && np.key == key && np.node.Kind != yaml.DocumentNode && match(np.node) {
			return np.path, true
		}
	}
	return "", false
}

var (
	reLine      = regexp.MustCompile(`^line (\d+): (.*)$`)
	reUnknown   = regexp.MustCompile(`^field (.+) not found in type (\S+)$`)
	reWrongType = regexp.MustCompile("^cannot unmarshal (!!\\w+)(?: `(.*)`)? into (.+)$")
	reDupKey    = regexp.MustCompile(`^mapping key (".*") already defined at line (\d+)$`)
)

// yamlError turns an error of yaml.v3's Decode into one *Error: its first problem, with a
// count of the others.
func (s *source) yamlError(err error, data []byte) *Error {
	var te *yaml.TypeError
	if !errors.As(err, &te) || len(te.Errors) == 0 {
		return syntaxErr(err, data)
	}
	e := s.translate(te.Errors[0])
	if n := len(te.Errors) - 1; n == 1 {
		e.Msg += " (and 1 more problem)"
	} else if n > 1 {
		e.Msg += fmt.Sprintf(" (and %d more problems)", n)
	}
	return e
}

// translate turns one of yaml.v3's messages into an *Error naming the field and its line:
//
//	line 7: field fpss not found in type config.Engine  →  7, engine.fpss, unknown key; did you mean "fps"?
//	line 3: cannot unmarshal !!str `ten` into int      →  3, engine.fps, expected an integer, got a string "ten"
//
// A message it does not recognise is kept as it is.
func (s *source) translate(msg string) *Error {
	m := reLine.FindStringSubmatch(msg)
	if m == nil {
		return &Error{Msg: strings.TrimPrefix(msg, "yaml: "), Kind: ErrBadValue}
	}
	line, _ := strconv.Atoi(m[1])
	rest := m[2]
	e := &Error{Line: line, Msg: rest, Kind: ErrBadValue}

	if u := reUnknown.FindStringSubmatch(rest); u != nil {
		key, typ := u[1], u[2]
		e.Kind = ErrUnknownKey
		path, ok := s.find(line, true, func(n *yaml.Node) bool { return n.Value == key })
		if !ok {
			e.Msg = fmt.Sprintf("unknown key %q in %s", key, typ)
			return e
		}
		e.Path = path
		e.Msg = "unknown key" + knownKeysHint(key, typ)
		return e
	}

	if t := reWrongType.FindStringSubmatch(rest); t != nil {
		tag, val, into := t[1], t[2], t[3]
		e.Kind = ErrWrongType
		full := strings.TrimSuffix(val, "...")
		matches := func(n *yaml.Node) bool {
			if n.ShortTag() != tag {
				return false
			}
			if n.Kind != yaml.ScalarNode {
				return true
			}
			if strings.HasSuffix(val, "...") {
				return strings.HasPrefix(n.Value, full)
			}
			return n.Value == val
		}
		// Several nodes on one line may fit (flow style: "engine: {fps: {}}"); the one whose
		// field has the Go type yaml.v3 names is it, else the innermost.
		var path string
		var ok bool
		for _, np := range s.nodes {
			if np.key || np.node.Line != line || np.node.Kind == yaml.DocumentNode || !matches(np.node) {
				continue
			}
			if t := schemaType(np.path); t != nil && t.String() == into {
				path, ok = np.path, true
				break
			}
			path, ok = np.path, true
		}
		got := tagWord(tag)
		if ok {
			e.Path = path
			if n := s.node(path, line); n != nil && n.Kind == yaml.ScalarNode {
				val = n.Value
			}
		}
		if tag != "!!map" && tag != "!!seq" && tag != "!!null" && (val != "" || tag == "!!str") {
			got += " " + strconv.Quote(val)
		}
		e.Msg = fmt.Sprintf("expected %s, got %s", wantWord(into), got)
		return e
	}

	if d := reDupKey.FindStringSubmatch(rest); d != nil {
		e.Kind = ErrSyntax
		key, err := strconv.Unquote(d[1])
		if err != nil {
			key = d[1]
		}
		if path, ok := s.find(line, true, func(n *yaml.Node) bool { return n.Value == key }); ok {
			e.Path = path
		}
		e.Msg = "duplicate key (first at line " + d[2] + ")"
		return e
	}

	// One of this package's own messages (lineErr): the value node on that line, preferring
	// the one the message quotes.
	quoted := func(n *yaml.Node) bool {
		return n.Kind == yaml.ScalarNode && strings.Contains(rest, strconv.Quote(n.Value))
	}
	path, ok := s.find(line, false, quoted)
	if !ok {
		path, ok = s.find(line, false, func(n *yaml.Node) bool {
			return n.Kind == yaml.ScalarNode && n.Value != "" && strings.Contains(rest, n.Value)
		})
	}
	if ok {
		e.Path = path
	}
	return e
}

// node returns the value node at path on line.
func (s *source) node(path string, line int) *yaml.Node {
	for _, np := range s.nodes {
		if !np.key && np.path == path && np.node.Line == line {
			return np.node
		}
	}
	return nil
}

// parserProblems are the messages of yaml.v3's parser (as opposed to its scanner). v3.0.1
// reports their line 0-based (it adds the 1 only for scanner errors), so syntaxErr adds it.
var parserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// syntaxErr turns a YAML parse error of data ("yaml: line 3: did not find expected key")
// into an *Error with its line. yaml.v3 leaves the line out when it is the first one, and
// for problems with the bytes themselves (control characters, bad UTF-8), whose line this
// finds.
func syntaxErr(err error, data []byte) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &Error{Msg: msg, Kind: ErrSyntax}
	if m := reLine.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = m[2]
		if parserProblems[e.Msg] {
			e.Line++
		}
		return e
	}
	switch {
	case msg == "control characters are not allowed":
		e.Line = lineAt(data, bytes.IndexFunc(data, func(r rune) bool {
			return r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f
		}))
	case strings.Contains(msg, "UTF-8") || msg == "invalid Unicode character":
		for i := 0; i < len(data); {
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n <= 1 {
				e.Line = lineAt(data, i)
				break
			}
			i += n
		}
	case strings.HasPrefix(msg, "input error") || strings.Contains(msg, "UTF-16") || strings.Contains(msg, "surrogate"):
	case err.Error() != msg: // a "yaml: " error without a line: the first line
		e.Line = 1
	}
	return e
}

// lineAt returns the 1-based line of byte offset i of data (0 if i < 0).
func lineAt(data []byte, i int) int {
	if i < 0 {
		return 0
	}
	return bytes.Count(data[:i], []byte("\n")) + 1
}

// tagWord names a YAML tag for people.
func tagWord(tag string) string {
	switch tag {
	case "!!str":
		return "a string"
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!null":
		return "null"
	case "!!map":
		return "a mapping"
	case "!!seq":
		return "a list"
	case "!!timestamp":
		return "a timestamp"
	case "!!binary":
		return "binary data"
	}
	return tag
}

// wantWord names the Go type yaml.v3 wanted for people; a phrase (from typeErr) is kept.
func wantWord(goType string) string {
	t := strings.TrimPrefix(goType, "*")
	switch {
	case t == "string":
		return "a string"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["):
		return "a mapping"
	}
	if _, ok := schemaKeys()[t]; ok {
		return "a mapping"
	}
	return goType
}

// schemaKeys maps each struct type of the schema ("config.Engine") to its YAML keys.
func schemaKeys() map[string][]string {
	out := map[string][]string{}
	var visit func(t reflect.Type)
	visit = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t.PkgPath() != reflect.TypeOf(Config{}).PkgPath() {
			return
		}
		if _, done := out[t.String()]; done {
			return
		}
		var keys []string
		out[t.String()] = nil
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "-" || name == "" {
				continue
			}
			keys = append(keys, name)
			visit(f.Type)
		}
		out[t.String()] = keys
	}
	visit(reflect.TypeOf(Config{}))
	return out
}

// schemaType returns the Go type of the field at path ("frontends[0].name" → string), nil
// when path is not in the schema.
func schemaType(path string) reflect.Type {
	t := reflect.TypeOf(Config{})
	for path != "" {
		var seg string
		if strings.HasPrefix(path, "[") {
			end := strings.IndexByte(path, ']')
			if end < 0 || t.Kind() != reflect.Slice {
				return nil
			}
			t, path = t.Elem(), path[end+1:]
			continue
		}
		path = strings.TrimPrefix(path, ".")
		if i := strings.IndexAny(path, ".["); i >= 0 {
			seg, path = path[:i], path[i:]
		} else {
			seg, path = path, ""
		}
		switch t.Kind() {
		case reflect.Map:
			t = t.Elem()
		case reflect.Struct:
			var found bool
			for i := 0; i < t.NumField(); i++ {
				f := t.Field(i)
				if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name == seg && f.IsExported() {
					t, found = f.Type, true
					break
				}
			}
			if !found {
				return nil
			}
		default:
			return nil
		}
	}
	return t
}

// knownKeysHint suggests the closest key of typ, or lists its keys.
func knownKeysHint(key, typ string) string {
	keys := schemaKeys()[typ]
	if len(keys) == 0 {
		return ""
	}
	best, bestD := "", 3
	for _, k := range keys {
		if d := editDistance(strings.ToLower(key), k); d < bestD && d < len(key) {
			best, bestD = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	return " (valid keys: " + strings.Join(keys, ", ") + ")"
}

// editDistance is the optimal-string-alignment distance: insertions, deletions,
// substitutions and transpositions of neighbours each cost 1.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// sortedKeys returns m's keys in order, so walks and messages are deterministic.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
