package cloud

// The contract checked with kin-openapi: the document with openapi3's Validate, every
// response with openapi3filter.ValidateResponse through the gorillamux router. Built with
// -tags kinopenapi; it needs kin-openapi's own dependencies in go.sum
// (go get github.com/getkin/kin-openapi@v0.128.0).

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

type kinContract struct {
	doc    *openapi3.T
	router routers.Router
}

func newContract(t testing.TB) contract {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPI)
	if err != nil {
		t.Fatalf("openapi.yaml: load: %v", err)
	}
	// Route by path alone: the test servers listen on free ports, not on the documented one.
	routed := *doc
	routed.Servers = nil
	router, err := gorillamux.NewRouter(&routed)
	if err != nil {
		t.Fatalf("openapi.yaml: router: %v", err)
	}
	return &kinContract{doc: doc, router: router}
}

func (c *kinContract) checkDocument(t *testing.T) {
	t.Helper()
	if err := c.doc.Validate(context.Background()); err != nil {
		t.Errorf("openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	if c.doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", c.doc.OpenAPI)
	}
}

func (c *kinContract) checkResponse(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		t.Errorf("%s %s: no route in openapi.yaml: %v", req.Method, req.URL.Path, err)
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s → %d %s: does not match openapi.yaml: %v", req.Method, req.URL.Path, status, body, err)
	}
}
