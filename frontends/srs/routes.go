package srs

import (
	"time"

	"github.com/screenrec/recorder/frontends/httpkit"
)

// newHTTP returns the API's HTTP server (httpkit: listeners, timeouts, draining, telemetry,
// panics, body limit, error answers) with the routes of the API.
func (s *server) newHTTP(st *settings) *httpkit.Server {
	hs := httpkit.New(httpkit.Options{
		Name: Name, Listen: st.cfg.Listen, HTTPSListen: st.cfg.HTTPSListen,
		// The certificate of the config in force, so a new config (or renewed files) rotate it.
		CertFiles: func() (string, string) { c := s.settings().cfg; return c.CertFile, c.KeyFile },
		ErrorBody: answerBody,
		Headers:   s.corsHeaders,
		MaxBody:   MaxBody,
		// All the engine and verifier calls of a request share one engineTimeout.
		HandlerTimeout: func() time.Duration { return engineTimeout },
		Log:            s.log,
	})
	e := hs.Echo()
	e.Use(s.refuseForeignOrigins)
	for _, p := range []string{"/api/v2/me", "/api/v2/me/"} {
		e.GET(p, s.loginDefault)
		e.POST(p, s.postMe)
		e.OPTIONS(p, s.preflight(corsAllowMethods))
	}
	e.GET("/ping", s.ping)
	e.OPTIONS("/ping", s.preflight("GET, OPTIONS"))
	return hs
}
