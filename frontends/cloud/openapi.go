package cloud

import _ "embed"

// OpenAPI is the API's contract as an OpenAPI 3.0.3 document (YAML): the token endpoint and
// both spellings of start and stop, their query parameters, every status with its body, and
// the bearer security scheme.
//
//go:embed openapi.yaml
var OpenAPI []byte
