package config

import (
	"errors"
	"fmt"

	"github.com/screenrec/recorder/pkg/secret"
)

// secretErr turns a problem of package secret into an *Error (ErrSecret) at path, prefix of
// the problem's own path.
func secretErr(prefix string, err error) *Error {
	path := prefix
	var pe *secret.PathError
	if errors.As(err, &pe) {
		path = joinPath(prefix, pe.Path)
		err = pe.Err
	}
	return &Error{Path: path, Msg: err.Error(), Kind: ErrSecret}
}

// Resolved returns a copy of c whose adapter configs have every secret reference replaced by
// its value (see secret.ResolveAll); c keeps the references. Errors name the full path and
// its line: "configs/x.yaml:14: uploaders[0].config.password: env RWS_PASSWORD is not set".
func (c *Config) Resolved(env func(string) (string, bool)) (*Config, error) {
	out := *c
	for _, kind := range []struct {
		section string
		list    *[]Adapter
	}{{"frontends", &out.Frontends}, {"uploaders", &out.Uploaders}} {
		if *kind.list == nil {
			continue
		}
		resolved := make([]Adapter, len(*kind.list))
		for i, a := range *kind.list {
			m, err := secret.ResolveAll(a.Config, env)
			if err != nil {
				return nil, c.src.locate(secretErr(fmt.Sprintf("%s[%d].config", kind.section, i), err))
			}
			a.Config = m
			resolved[i] = a
		}
		*kind.list = resolved
	}
	return &out, nil
}
