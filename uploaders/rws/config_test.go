package rws

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/screenrec/recorder/internal/sampletest"
	"github.com/screenrec/recorder/plugins/sdk"
)

func TestConfigure(t *testing.T) {
	u := New()
	diags, err := u.Configure(context.Background(), []byte(`{"server":"https://rws.example.com/","username":"svc","password":"pw"}`))
	if err != nil || len(diags) != 0 {
		t.Fatalf("Configure = %+v, %v", diags, err)
	}
	want := Config{Server: "https://rws.example.com", Username: "svc", Password: "pw",
		ChunkSize: DefaultChunkSize, Timeout: DefaultTimeout, Cooldown: DefaultCooldown}
	if *u.cfg != want {
		t.Errorf("config = %+v, want %+v", *u.cfg, want)
	}

	for _, tc := range []struct {
		name, raw, field string
		warning          bool
	}{
		{"not an object", `[1]`, "", false},
		{"null", `null`, "", false},
		{"unknown key", `{"server":"https://a","username":"u","password":"p","servr":"x"}`, "servr", false},
		{"no server", `{"username":"u","password":"p"}`, "server", false},
		{"empty server", `{"server":"","username":"u","password":"p"}`, "server", false},
		{"relative server", `{"server":"rws.example.com","username":"u","password":"p"}`, "server", false},
		{"ftp server", `{"server":"ftp://rws.example.com","username":"u","password":"p"}`, "server", false},
		{"server with query", `{"server":"https://a/?x=1","username":"u","password":"p"}`, "server", false},
		{"server with credentials", `{"server":"https://u:p@a","username":"u","password":"p"}`, "server", false},
		{"server not a string", `{"server":5,"username":"u","password":"p"}`, "server", false},
		{"bad peer", `{"server":"https://a","peer_server":"nope","username":"u","password":"p"}`, "peer_server", false},
		{"peer is server", `{"server":"https://a","peer_server":"https://a/","username":"u","password":"p"}`, "peer_server", false},
		{"username alone", `{"server":"https://a","username":"u"}`, "password", false},
		{"password alone", `{"server":"https://a","password":"p"}`, "username", false},
		{"colon in username", `{"server":"https://a","username":"u:v","password":"p"}`, "username", false},
		{"chunk size words", `{"server":"https://a","username":"u","password":"p","chunk_size":"lots"}`, "chunk_size", false},
		{"chunk size tiny", `{"server":"https://a","username":"u","password":"p","chunk_size":10}`, "chunk_size", false},
		{"chunk size huge", `{"server":"https://a","username":"u","password":"p","chunk_size":"1GiB"}`, "chunk_size", false},
		{"chunk size fraction", `{"server":"https://a","username":"u","password":"p","chunk_size":1.5}`, "chunk_size", false},
		{"timeout words", `{"server":"https://a","username":"u","password":"p","timeout":"soon"}`, "timeout", false},
		{"timeout number", `{"server":"https://a","username":"u","password":"p","timeout":30}`, "timeout", false},
		{"timeout tiny", `{"server":"https://a","username":"u","password":"p","timeout":"1ms"}`, "timeout", false},
		{"cooldown negative", `{"server":"https://a","username":"u","password":"p","cooldown":"-1s"}`, "cooldown", false},
		{"no service account", `{"server":"https://a"}`, "username", true},
		{"plain http", `{"server":"http://rws.example.com","username":"u","password":"p"}`, "server", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := New()
			good := []byte(`{"server":"https://good","username":"u","password":"p"}`)
			if diags, _ := u.Configure(context.Background(), good); len(diags) != 0 {
				t.Fatal(diags)
			}
			diags, err := u.Configure(context.Background(), []byte(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, d := range diags {
				if d.Field == tc.field && d.Summary != "" && (d.Severity == sdk.SeverityWarning) == tc.warning {
					found = true
				}
			}
			if !found {
				t.Errorf("Configure(%s) = %+v, want a diagnostic on %q (warning %v)", tc.raw, diags, tc.field, tc.warning)
			}
			refused := !tc.warning
			if kept := u.cfg.Server == "https://good"; kept != refused {
				t.Errorf("config after Configure(%s) = %+v; refused %v", tc.raw, u.cfg, refused)
			}
		})
	}
}

func TestChunkSizeForms(t *testing.T) {
	for raw, want := range map[string]int64{
		`65536`: 65536, `"4MiB"`: 4 << 20, `"512 KiB"`: 512 << 10, `"1MB"`: 1_000_000, `"1.5MiB"`: 3 << 19, `"2m"`: 2 << 20, `"8192"`: 8192, `"64mib"`: 64 << 20,
	} {
		u := New()
		diags, _ := u.Configure(context.Background(), []byte(`{"server":"https://a","username":"u","password":"p","chunk_size":`+raw+`}`))
		if len(diags) != 0 || u.cfg.ChunkSize != want {
			t.Errorf("chunk_size %s: %+v, %d; want %d", raw, diags, u.cfg.ChunkSize, want)
		}
	}
	for _, bad := range []string{`""`, `"MiB"`, `"4 parsecs"`, `"-4MiB"`, `-4`, `"99999999999999999999"`, `1.5`, `true`} {
		u := New()
		diags, _ := u.Configure(context.Background(), []byte(`{"server":"https://a","username":"u","password":"p","chunk_size":`+bad+`}`))
		if len(diags) != 1 || diags[0].Field != "chunk_size" || diags[0].Severity != sdk.SeverityError {
			t.Errorf("chunk_size %s: %+v, want one error on chunk_size", bad, diags)
		}
	}
}

func TestOrder(t *testing.T) {
	u := New()
	if diags, _ := u.Configure(context.Background(), []byte(`{"server":"https://p","peer_server":"https://q","username":"u","password":"p","cooldown":"1m"}`)); len(diags) != 0 {
		t.Fatal(diags)
	}
	now := time.Unix(1_000_000, 0)
	u.now = func() time.Time { return now }
	tg := target{primary: "https://p", peer: "https://q"}
	check := func(what, resume string, want ...string) {
		t.Helper()
		got := u.order(tg, resume)
		if len(got) != len(want) || got[0] != want[0] || got[len(got)-1] != want[len(want)-1] {
			t.Errorf("%s: order = %v, want %v", what, got, want)
		}
	}
	check("healthy", "", "https://p", "https://q")
	check("resume on the peer", "https://q"+UploadPath+"abc", "https://q", "https://p")
	check("resume elsewhere", "https://x"+UploadPath+"abc", "https://p", "https://q")
	u.failed("https://p")
	check("primary cooling", "", "https://q", "https://p")
	check("primary cooling, resume on it", "https://p"+UploadPath+"abc", "https://q", "https://p")
	u.worked("https://q")
	now = now.Add(30 * time.Second)
	u.failed("https://q")
	check("both cooling, the peer worked last", "", "https://q", "https://p")
	u.lastGood = ""
	check("both cooling, none worked", "", "https://p", "https://q")
	now = now.Add(31 * time.Second)
	check("primary cooled down", "", "https://p", "https://q")
	u.worked("https://p")
	check("primary worked", "", "https://p", "https://q")
	if got := u.order(target{primary: "https://p"}, ""); len(got) != 1 {
		t.Errorf("order without a peer = %v", got)
	}
}

// The shipped sample's rws section configures the uploader without a diagnostic but the
// secret (resolved by the host, here by hand).
func TestSampleConfig(t *testing.T) {
	cfg := sampletest.Uploader(t, "../../configs/uploader-rws.yaml", Name)
	if ref, ok := cfg["password"].(map[string]any); !ok || ref["env"] == nil {
		t.Fatalf("sample password = %v, want a secret reference", cfg["password"])
	}
	cfg["password"] = "resolved"
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	diags, err := New().Configure(context.Background(), js)
	if err != nil || len(diags) != 0 {
		t.Errorf("Configure(sample) = %+v, %v; want no diagnostic", diags, err)
	}
}
