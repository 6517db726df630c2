package admin

import _ "embed"

// OpenAPI is the API's contract as an OpenAPI 3.0.3 document (YAML), served at
// GET /api/v1/openapi.yaml: every path, parameter, status and body, and the bearer scheme.
//
//go:embed openapi.yaml
var OpenAPI []byte
