package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/screenrec/recorder/pkg/config/decl"
)

// source remembers where a config's values came from — the file's lines per field path and
// the environment variables that overrode fields — so errors found after decoding (by
// validation, environment parsing, secret resolution) can cite them.
type source struct {
	file  string
	lines map[string]int    // field path → line of its key (of the item, for list items)
	env   map[string]string // field path → environment variable that set it
}

// read parses data, a YAML document, into the value tree decl.Decode takes, indexing the
// line of every key and list item by its path. rootLine is the line of the document's value.
func (s *source) read(data []byte) (tree any, rootLine int, e *Error) {
	if e := checkBytes(data); e != nil {
		return nil, 0, e
	}
	f, err := parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		return nil, 0, syntaxErr(err)
	}
	s.lines = map[string]int{}
	var docs []*ast.DocumentNode
	for _, d := range f.Docs {
		if d != nil && d.Body != nil {
			docs = append(docs, d)
		}
	}
	switch {
	case len(docs) == 0:
		return nil, 0, nil
	case len(docs) > 1:
		line := docs[1].Body.GetToken().Position.Line
		if docs[1].Start != nil {
			line = docs[1].Start.Position.Line
		}
		return nil, 0, &Error{Line: line, Msg: "a second YAML document starts here; a config file holds one", Kind: ErrSyntax}
	}
	t := &treeBuilder{src: s, anchors: map[string]any{}}
	tree, e = t.node(docs[0].Body, "")
	return tree, lineOf(docs[0].Body), e
}

// treeBuilder turns the YAML syntax tree into plain values, recording lines as it goes.
type treeBuilder struct {
	src     *source
	anchors map[string]any
}

func lineOf(n ast.Node) int {
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}

func (t *treeBuilder) node(n ast.Node, path string) (any, *Error) {
	switch n := n.(type) {
	case nil, *ast.NullNode, *ast.CommentGroupNode:
		return nil, nil
	case *ast.StringNode:
		return n.Value, nil
	case *ast.LiteralNode:
		return n.Value.Value, nil
	case *ast.AnchorNode:
		v, e := t.node(n.Value, path)
		t.anchors[n.Name.GetToken().Value] = v
		return v, e
	case *ast.AliasNode:
		v, ok := t.anchors[n.Value.GetToken().Value]
		if !ok {
			return nil, &Error{Line: lineOf(n), Path: path, Msg: fmt.Sprintf("unknown alias %q", n.Value.GetToken().Value), Kind: ErrSyntax}
		}
		return v, nil
	case *ast.TagNode:
		if n.Start != nil && n.Start.Value == "!!str" && n.Value != nil {
			return n.Value.GetToken().Value, nil
		}
		return t.node(n.Value, path)
	case *ast.MappingKeyNode:
		return t.node(n.Value, path)
	case *ast.MappingNode:
		return t.mapping(n.Values, path)
	case *ast.MappingValueNode:
		return t.mapping([]*ast.MappingValueNode{n}, path)
	case *ast.SequenceNode:
		items := make([]any, 0, len(n.Values))
		for i, item := range n.Values {
			p := fmt.Sprintf("%s[%d]", path, i)
			t.src.lines[p] = lineOf(item)
			v, e := t.node(item, p)
			if e != nil {
				return nil, e
			}
			items = append(items, v)
		}
		return items, nil
	case *ast.IntegerNode:
		// As int where it fits, like encoding/json's and yaml.v3's generic values.
		switch x := n.Value.(type) {
		case int64:
			if x >= math.MinInt && x <= math.MaxInt {
				return int(x), nil
			}
		case uint64:
			if x <= math.MaxInt {
				return int(x), nil
			}
		}
		return n.Value, nil
	case ast.ScalarNode:
		return n.GetValue(), nil
	}
	return nil, &Error{Line: lineOf(n), Path: path, Msg: fmt.Sprintf("unsupported YAML (%s)", n.Type()), Kind: ErrSyntax}
}

// mapping builds a map[string]any, or a map[any]any when a key is not a string (which
// validation then reports where it matters).
func (t *treeBuilder) mapping(pairs []*ast.MappingValueNode, path string) (any, *Error) {
	out := map[any]any{}
	stringKeys := true
	first := map[string]int{}
	for _, mv := range pairs {
		if mv.Key.IsMergeKey() {
			v, e := t.node(mv.Value, path)
			if e != nil {
				return nil, e
			}
			if m, ok := v.(map[string]any); ok {
				for k, x := range m {
					if _, set := out[k]; !set {
						out[k] = x
					}
				}
			}
			continue
		}
		k, e := t.node(mv.Key, path)
		if e != nil {
			return nil, e
		}
		if _, ok := k.(string); !ok {
			stringKeys = false
		}
		name := fmt.Sprint(k)
		p := joinPath(path, name)
		line := lineOf(mv.Key)
		if l, dup := first[name]; dup {
			return nil, &Error{Line: line, Path: p, Msg: fmt.Sprintf("duplicate key (first at line %d)", l), Kind: ErrSyntax}
		}
		first[name] = line
		t.src.lines[p] = line
		v, e := t.node(mv.Value, p)
		if e != nil {
			return nil, e
		}
		out[k] = v
	}
	if !stringKeys {
		return out, nil
	}
	m := make(map[string]any, len(out))
	for k, v := range out {
		m[k.(string)] = v
	}
	return m, nil
}

// syntaxErr turns the YAML parser's error into an *Error with its line.
func syntaxErr(err error) *Error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		e := &Error{Msg: ye.GetMessage(), Kind: ErrSyntax}
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Line = tk.Position.Line
		}
		return e
	}
	return &Error{Msg: err.Error(), Kind: ErrSyntax}
}

// checkBytes refuses what YAML does not allow in a document but the parser lets through:
// control characters and bytes that are not UTF-8.
func checkBytes(data []byte) *Error {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			return &Error{Line: lineAt(data, i), Msg: "invalid UTF-8", Kind: ErrSyntax}
		case r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f:
			return &Error{Line: lineAt(data, i), Msg: "control characters are not allowed", Kind: ErrSyntax}
		}
		i += n
	}
	return nil
}

// lineAt returns the 1-based line of byte offset i of data.
func lineAt(data []byte, i int) int {
	return bytes.Count(data[:i], []byte("\n")) + 1
}

// problemsErr turns decl's problems with the file into one *Error: the first in the file,
// with a count of the others.
func (s *source) problemsErr(probs []decl.Problem, rootLine int) *Error {
	errs := make([]*Error, len(probs))
	for i, p := range probs {
		e := s.locate(problemErr(p))
		if p.Path == "" {
			e.Line = rootLine
		}
		errs[i] = e
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	e := errs[0]
	if n := len(errs) - 1; n == 1 {
		e.Msg += " (and 1 more problem)"
	} else if n > 1 {
		e.Msg += fmt.Sprintf(" (and %d more problems)", n)
	}
	return e
}

// problemErr is p as an *Error, not yet located.
func problemErr(p decl.Problem) *Error {
	kind := ErrBadValue
	switch p.Kind {
	case decl.UnknownKey:
		kind = ErrUnknownKey
	case decl.WrongType:
		kind = ErrWrongType
	}
	return &Error{Path: p.Path, Msg: p.Message(), Kind: kind}
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
