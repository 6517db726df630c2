//go:build tools

// Package tools pins the programs the tests build from other modules, apart from the
// recorder's own go.mod so that they add nothing to the recorder's dependencies: the
// S3-compatible server (versitygw, Apache-2.0) that internal/s3server runs.
package tools

import _ "github.com/versity/versitygw/cmd/versitygw"
