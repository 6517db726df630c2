package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/screenrec/recorder/engine"
)

// Every status the cloud API specifies, reached over real HTTP against the real engine on
// Xvfb through the plugin process.
func TestCloudEveryStatusOnTheRealEngine(t *testing.T) {
	t.Parallel()
	noPerm := sha256.Sum256([]byte("no-permission-secret"))
	c := newCloudStack(t, func(display string) map[string]any {
		return map[string]any{
			"users": []map[string]any{{"id": cloudUser, "display": display}, {"id": "ghost", "display": ":1999"}},
			"access_keys": []map[string]any{
				{"id": cloudKeyID, "secret_sha256": hexSum(cloudKeySecret), "permissions": []string{"RecordScreenInteraction"}},
				{"id": "viewer", "secret_sha256": hex.EncodeToString(noPerm[:]), "permissions": []string{}},
			},
		}
	})
	tok := c.token(t)
	start := "start-screen-interaction-recording"

	if a := c.call(t, "", start, startQ(cloudUser, 10)); a.Status != 401 || a.HTTPStatus == "" {
		t.Errorf("no token: %+v, want 401", a)
	}
	if a := c.call(t, c.tokenFor(t, "viewer", "no-permission-secret"), start, startQ(cloudUser, 10)); a.Status != 403 {
		t.Errorf("token without permission: %+v, want 403", a)
	}
	if a := c.call(t, tok, start, startQ(cloudUser, 4)); a.Status != 400 {
		t.Errorf("duration 4 s: %+v, want 400", a)
	}
	if a := c.call(t, tok, start, startQ("nobody", 10)); a.Status != 404 {
		t.Errorf("unknown user: %+v, want 404", a)
	}
	if a := c.call(t, tok, start, startQ("ghost", 10)); a.Status != 500 || !strings.Contains(a.Description, "engine") {
		t.Errorf("a display that does not exist: %+v, want 500 naming the engine", a)
	}
	big := bytes.Repeat([]byte("x"), 65*1024)
	resp, err := http.Post(c.cloud+"/authentication/v1/token/access-key", "application/json", bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("65 KiB token request: %d, want 413", resp.StatusCode)
	}

	// 50 concurrent starts: one recording; every answer 200/202 with its contact id, or 425.
	var mu sync.Mutex
	statuses := map[int]int{}
	contacts := map[int64]bool{}
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := c.callSafe(tok, start, startQ(cloudUser, 30))
			mu.Lock()
			defer mu.Unlock()
			statuses[a.Status]++
			if a.Status == 200 || a.Status == 202 {
				contacts[a.ContactID] = true
			}
		}()
	}
	wg.Wait()
	if statuses[200]+statuses[202]+statuses[425] != 50 || statuses[425] == 0 || len(contacts) != 1 {
		t.Errorf("50 concurrent starts: statuses %v, contact ids %v", statuses, contacts)
	}
	list, _ := c.eng.List(context.Background(), engine.ListFilter{Owner: cloudUser})
	if len(list) != 1 {
		t.Fatalf("recordings after 50 starts: %d, want 1", len(list))
	}
	if a := c.call(t, tok, "stop-screen-interaction-recording", stopQ(cloudUser, list[0].ContactID)); a.Status != 200 && a.Status != 202 {
		t.Errorf("stop: %+v", a)
	}
}

// An engine that cannot open a capture within engine_timeout answers 504.
func TestCloudEngineTimeoutIs504(t *testing.T) {
	t.Parallel()
	c := newCloudStack(t, func(string) map[string]any { return map[string]any{"engine_timeout": "10ms"} })
	if a := c.call(t, c.token(t), "start-screen-interaction-recording", startQ(cloudUser, 10)); a.Status != 504 {
		t.Errorf("start with a 10 ms engine timeout: %+v, want 504", a)
	}
}

func hexSum(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func (c *cloudStack) tokenFor(t testing.TB, id, secret string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"accessKeyId": id, "accessKeySecret": secret})
	resp, err := http.Post(c.cloud+"/authentication/v1/token/access-key", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	return tok.AccessToken
}
