package srs

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// CORS: which web pages may call the API (Config.Origins; origin.go parses them).

const (
	corsAllowMethods  = "GET, POST, OPTIONS"
	corsAllowHeaders  = "Authorization, Content-Type, X-Support-CSRFP, X-CSRF-Token"
	corsExposeHeaders = "X-CSRF-Token, X-CSRF-Header"
	corsMaxAge        = "120"
)

// corsHeaders sets the CORS headers of actual requests from allowed origins; every answer
// varies by Origin. It runs for every answer, the 503 of a stopping server included, so that
// the desktop's page can read it.
func (s *server) corsHeaders(h http.Header, r *http.Request) {
	h.Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if origin != "" && r.Method != http.MethodOptions && allowedOrigin(s.settings().origins, origin) {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
	}
}

// refuseForeignOrigins refuses the requests of origins that are not allowed (pre-flights
// answer their own 403). Every request of the API can change state: a GET of /api/v2/me logs
// in and starts a recording, a ping keeps a session alive, so a page the browser would not
// let read the answer must not cause its effects either.
func (s *server) refuseForeignOrigins(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if origin := r.Header.Get("Origin"); origin != "" && r.Method != http.MethodOptions && !allowedOrigin(s.settings().origins, origin) {
			return apiErrorf(http.StatusForbidden, "origin %s is not allowed", origin)
		}
		return next(c)
	}
}

// preflight answers CORS pre-flights (and plain OPTIONS) of a path whose methods are allow.
func (s *server) preflight(allow string) echo.HandlerFunc {
	return func(c echo.Context) error {
		r, h := c.Request(), c.Response().Header()
		origin := r.Header.Get("Origin")
		if origin == "" {
			h.Set("Allow", allow)
			return c.NoContent(http.StatusOK)
		}
		if !allowedOrigin(s.settings().origins, origin) {
			return apiErrorf(http.StatusForbidden, "origin %s is not allowed", origin)
		}
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Allow-Methods", corsAllowMethods)
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", corsMaxAge)
		if strings.EqualFold(strings.TrimSpace(r.Header.Get("Access-Control-Request-Private-Network")), "true") {
			h.Set("Access-Control-Allow-Private-Network", "true")
		}
		return c.NoContent(http.StatusOK)
	}
}
