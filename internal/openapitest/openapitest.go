// Package openapitest checks HTTP APIs against their OpenAPI 3 documents in tests, with
// kin-openapi: the document itself, and the requests and responses a test exchanges, so that
// a handler and its published contract cannot drift apart.
//
//	c, err := openapitest.New(myapi.OpenAPI)      // load, validate, route by path alone
//	client := &http.Client{Transport: c.Transport(t, nil)}
//	res, _ := client.Get(base + "/api/v1/things") // request and response checked
package openapitest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Binary answers (thumbnails, video files) are checked for their status, headers and content
// type; their bytes are the tests' business.
func init() {
	for _, ct := range []string{"image/jpeg", "image/png", "video/mp4"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
	}
}

// Contract is a loaded, valid OpenAPI document with a router over its paths.
type Contract struct {
	doc    *openapi3.T
	router routers.Router
}

// New parses doc (YAML or JSON), validates it as an OpenAPI 3 document and builds a router
// that matches requests by method and path alone: the document's servers are dropped, since
// test servers listen on free ports rather than on the documented one.
func New(doc []byte) (*Contract, error) {
	loader := openapi3.NewLoader()
	d, err := loader.LoadFromData(doc)
	if err != nil {
		return nil, fmt.Errorf("openapitest: load: %w", err)
	}
	if err := d.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("openapitest: not a valid OpenAPI document: %w", err)
	}
	routed := *d
	routed.Servers = nil
	router, err := gorillamux.NewRouter(&routed)
	if err != nil {
		return nil, fmt.Errorf("openapitest: router: %w", err)
	}
	return &Contract{doc: d, router: router}, nil
}

// Doc is the parsed document.
func (c *Contract) Doc() *openapi3.T { return c.doc }

// options are the validation options of every check: every problem, not just the first;
// statuses the document does not list are errors; the request is not changed (no defaults
// filled in); bearer and API-key schemes are satisfied by the header being present (whether
// the credential is right is the server's business, and the tests').
func options() *openapi3filter.Options {
	return &openapi3filter.Options{
		IncludeResponseStatus: true,
		MultiError:            true,
		SkipSettingDefaults:   true,
		AuthenticationFunc:    presentCredentials,
	}
}

func presentCredentials(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	r := in.RequestValidationInput.Request
	s := in.SecurityScheme
	switch {
	case s.Type == "http" && strings.EqualFold(s.Scheme, "bearer"):
		scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(cred) == "" {
			return fmt.Errorf("no bearer token for security scheme %s", in.SecuritySchemeName)
		}
	case s.Type == "http" && strings.EqualFold(s.Scheme, "basic"):
		if _, _, ok := r.BasicAuth(); !ok {
			return fmt.Errorf("no basic credentials for security scheme %s", in.SecuritySchemeName)
		}
	case s.Type == "apiKey" && s.In == "header":
		if r.Header.Get(s.Name) == "" {
			return fmt.Errorf("no %s header for security scheme %s", s.Name, in.SecuritySchemeName)
		}
	}
	return nil
}

// route finds the operation of req.
func (c *Contract) route(req *http.Request) (*routers.Route, map[string]string, error) {
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: no such operation in the document: %w", req.Method, req.URL.Path, err)
	}
	return route, params, nil
}

// CheckRequest checks a request, whose body is body (nil: none), against its operation:
// path and query parameters, headers, credentials present, body.
func (c *Contract) CheckRequest(req *http.Request, body []byte) error {
	route, params, err := c.route(req)
	if err != nil {
		return err
	}
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: options()}
	if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
		return fmt.Errorf("%s %s: request does not match the document: %w", req.Method, req.URL.Path, err)
	}
	return nil
}

// CheckResponse checks the response to req against its operation: the status is listed, the
// body matches its schema, the documented headers are there.
func (c *Contract) CheckResponse(req *http.Request, status int, header http.Header, body []byte) error {
	route, params, err := c.route(req)
	if err != nil {
		return err
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Options:                options(),
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		return fmt.Errorf("%s %s → %d %s: response does not match the document: %w", req.Method, req.URL.Path, status, clip(body), err)
	}
	return nil
}

func clip(b []byte) string {
	const max = 400
	if len(b) <= max {
		return string(b)
	}
	return string(b[:max]) + "…"
}

type markKey struct{}

// mark says how a request is meant to relate to the document.
type mark int

const (
	// offContract: the request breaks the contract on purpose (no token, a bad body); only
	// its response is checked.
	offContract mark = iota + 1
	// unrouted: the request is to a path or method the document does not have; nothing is
	// checked, but a route found for it is an error (the test's idea of the API is stale).
	unrouted
)

// OffContract marks a request that breaks the contract on purpose (a missing token, a
// malformed body, a bad parameter): Transport checks its response, not the request.
func OffContract(req *http.Request) *http.Request {
	return req.WithContext(context.WithValue(req.Context(), markKey{}, offContract))
}

// Unrouted marks a request to a path or method the document does not describe (to test the
// server's answer to it): Transport checks nothing, except that the document indeed has no
// such operation.
func Unrouted(req *http.Request) *http.Request {
	return req.WithContext(context.WithValue(req.Context(), markKey{}, unrouted))
}

// Transport returns a RoundTripper over base (nil: a fresh http.Transport) that checks every
// request and its response with CheckRequest and CheckResponse, reporting mismatches with
// t.Errorf; see OffContract and Unrouted for requests meant to break the contract.
func (c *Contract) Transport(t testing.TB, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = &http.Transport{}
	}
	return &checking{t: t, c: c, base: base}
}

type checking struct {
	t    testing.TB
	c    *Contract
	base http.RoundTripper
}

func (k *checking) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	m, _ := req.Context().Value(markKey{}).(mark)
	switch m {
	case unrouted:
		if _, _, err := k.c.router.FindRoute(req); err == nil {
			k.t.Errorf("%s %s is marked unrouted but the document describes it", req.Method, req.URL.Path)
		}
	case 0:
		if err := k.c.CheckRequest(req, body); err != nil {
			k.t.Errorf("%v", err)
		}
	}
	res, err := k.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(raw))
	if m != unrouted {
		if err := k.c.CheckResponse(req, res.StatusCode, res.Header, raw); err != nil {
			k.t.Errorf("%v", err)
		}
	}
	return res, nil
}

// CloseIdleConnections closes the idle connections of the transport beneath, so that
// (*http.Client).CloseIdleConnections reaches them.
func (k *checking) CloseIdleConnections() {
	if ci, ok := k.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}
