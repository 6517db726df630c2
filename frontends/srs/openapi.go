package srs

import _ "embed"

// OpenAPI is the API's OpenAPI 3.0.3 description (openapi.yaml), for serving or validating.
//
//go:embed openapi.yaml
var OpenAPI []byte
