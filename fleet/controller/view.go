package controller

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// ViewHandler serves the fleet view, read-only JSON for operators: GET /fleet/v1/machines
// (machines present, with their users and last heartbeat) and GET
// /fleet/v1/users/{id}/recordings (the index's recordings of a user). Serve it on loopback or
// behind the operators' proxy: it carries no authentication of its own.
func ViewHandler(c *Controller) http.Handler {
	mux := http.NewServeMux()
	write := func(w http.ResponseWriter, v any, err error) {
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /fleet/v1/machines", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		ms, err := c.Machines(ctx)
		if ms == nil {
			ms = []Machine{}
		}
		write(w, ms, err)
	})
	mux.HandleFunc("GET /fleet/v1/users/{id}/recordings", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		recs, err := c.Recordings(ctx, r.PathValue("id"))
		if recs == nil {
			recs = []Record{}
		}
		write(w, recs, err)
	})
	return mux
}
