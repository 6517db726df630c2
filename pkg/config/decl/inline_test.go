package decl

import "testing"

type inlineBase struct {
	URL  string `cfg:"url,required" desc:"where"`
	Wait int    `cfg:"wait"`
}

type inlineOuter struct {
	InlineBase
	Name string `cfg:"name"`
}

// InlineBase is a shared section (an embedded field is promoted only when exported).
type InlineBase inlineBase

// An embedded struct without a tag shares its keys with the outer struct: declared once,
// decoded strictly, required keys checked.
func TestInlineEmbeddedStruct(t *testing.T) {
	fs := Fields(inlineOuter{InlineBase: InlineBase{Wait: 3}})
	var names []string
	for _, f := range fs {
		names = append(names, f.Name+"="+f.Default)
	}
	if got := len(fs); got != 3 || fs[0].Name != "url" || fs[1].Name != "wait" || fs[1].Default != "3" || fs[2].Name != "name" {
		t.Fatalf("fields: %v", names)
	}
	var out inlineOuter
	if ps := DecodeJSON([]byte(`{"url":"nats://x","wait":5,"name":"n"}`), &out, Options{}); len(ps) != 0 {
		t.Fatalf("problems: %v", ps)
	}
	if out.URL != "nats://x" || out.Wait != 5 || out.Name != "n" {
		t.Fatalf("decoded %+v", out)
	}
	ps := DecodeJSON([]byte(`{"name":"n","urll":"x"}`), &out, Options{})
	if len(ps) != 2 {
		t.Fatalf("want an unknown key and a missing url, got %v", ps)
	}
}
