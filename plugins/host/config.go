package host

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/screenrec/recorder/pkg/secret"
	"github.com/screenrec/recorder/plugins/sdk"
)

func describe(d sdk.Diagnostic) string {
	s := d.Summary
	if d.Field != "" {
		s = "config." + d.Field + ": " + s
	}
	if d.Detail != "" {
		s += ": " + d.Detail
	}
	return s
}

// resolvedConfig checks that secret fields are references, resolves them, and encodes the
// section as JSON for the plugin.
func (in *instance) resolvedConfig(ctx context.Context, impl sdk.Plugin) ([]byte, error) {
	schema, err := impl.ConfigSchema(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: config schema: %w", ErrLaunch, in.desc, err)
	}
	for _, f := range schema.Fields {
		if !f.Secret {
			continue
		}
		if where := secret.FindInline(in.spec.Config, f.Name, "config"); where != "" {
			return nil, fmt.Errorf("%w: %s: %s: a secret must be a reference ({env: NAME} or {file: PATH}), not inline",
				ErrBadConfig, in.desc, where)
		}
	}
	resolved, err := secret.ResolveAll(in.spec.Config, in.h.opts.Env)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadConfig, in.desc, err)
	}
	raw, err := json.Marshal(resolved)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadConfig, in.desc, err)
	}
	return raw, nil
}
