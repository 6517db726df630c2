package cloud

// The contract checked with kin-openapi (internal/openapitest): the document with openapi3's
// Validate, every response with openapi3filter.ValidateResponse.

import (
	"net/http"
	"testing"

	"github.com/screenrec/recorder/internal/openapitest"
)

type kinContract struct{ c *openapitest.Contract }

func newContract(t testing.TB) contract {
	t.Helper()
	c, err := openapitest.New(OpenAPI)
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	return &kinContract{c: c}
}

func (k *kinContract) checkDocument(t *testing.T) {
	t.Helper()
	if v := k.c.Doc().OpenAPI; v != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", v)
	}
}

func (k *kinContract) checkResponse(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	if err := k.c.CheckResponse(req, status, header, body); err != nil {
		t.Error(err)
	}
}
