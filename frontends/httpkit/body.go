package httpkit

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"
)

// WriteJSON answers v as JSON (HTML characters not escaped, a newline at the end) with status.
func WriteJSON(c echo.Context, status int, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return Errorf(http.StatusInternalServerError, "encode answer: %v", err)
	}
	return c.Blob(status, echo.MIMEApplicationJSON, buf.Bytes())
}

// ReadBody reads r's body, capped by the Server's body limit: over the limit it returns the
// 413 answer, another failure a 400.
func ReadBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return nil, TooLarge(mbe.Limit)
		}
		return nil, Errorf(http.StatusBadRequest, "cannot read the request body: %v", err)
	}
	return b, nil
}
