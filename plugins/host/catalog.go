package host

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/screenrec/recorder/plugins/builtin"
)

// defaultBuiltinExecutable is builtin.Executable beside this process's executable, or just its
// name (found nowhere, which Load reports with the path) when the executable is unknown.
func defaultBuiltinExecutable() string {
	self, err := os.Executable()
	if err != nil {
		return builtin.Executable
	}
	if resolved, err := filepath.EvalSymlinks(self); err == nil {
		self = resolved
	}
	return filepath.Join(filepath.Dir(self), builtin.Executable)
}

// newInstance finds what runs the spec: a built-in adapter, in-process or served by the
// builtin.Executable binary, or an external recorder-plugin-<name> binary from the plugin folder.
func (h *Host) newInstance(sp Spec) (*instance, error) {
	if sp.Where == "" {
		sp.Where = string(sp.Kind)
	}
	in := &instance{h: h, spec: sp, desc: fmt.Sprintf("%s (%s)", sp.Where, sp.Name), done: make(chan struct{})}
	if reg, ok := builtin.Lookup(sp.Kind, sp.Name); ok {
		in.reg = &reg
		if sp.InProcess {
			return in, nil
		}
		if fi, err := os.Stat(h.opts.BuiltinExecutable); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return nil, fmt.Errorf("%w: %s: built-in adapters run as plugin processes from %s, which is missing or not executable"+
				" (`make build` puts it next to the recorder; or set in_process: true)", ErrLaunch, in.desc, h.opts.BuiltinExecutable)
		}
		in.path = h.opts.BuiltinExecutable
		return in, nil
	}
	if sp.InProcess {
		return nil, fmt.Errorf("%w: %s: only built-in adapters run in-process", ErrUnknownPlugin, in.desc)
	}
	path := filepath.Join(h.opts.PluginDir, ExternalPrefix+sp.Name)
	if h.opts.PluginDir == "" {
		return nil, fmt.Errorf("%w: %s: no built-in %s of that name and no plugin_dir", ErrUnknownPlugin, in.desc, sp.Kind)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("%w: %s: no built-in %s of that name and no executable %s", ErrUnknownPlugin, in.desc, sp.Kind, path)
	}
	in.path = path
	return in, nil
}

// ExternalPrefix starts the file name of every external plugin binary.
const ExternalPrefix = "recorder-plugin-"

// External is a plugin binary found in the plugin folder.
type External struct {
	Name string
	Path string
}

// Discover lists the recorder-plugin-<name> executables in dir (none when dir is empty or
// missing).
func Discover(dir string) ([]External, error) {
	if dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("plugin dir: %w", err)
	}
	var out []External
	for _, e := range entries {
		name, ok := strings.CutPrefix(e.Name(), ExternalPrefix)
		if !ok || name == "" || e.IsDir() {
			continue
		}
		info, err := e.Info()
		if err != nil || info.Mode()&0o111 == 0 {
			continue
		}
		out = append(out, External{Name: name, Path: filepath.Join(dir, e.Name())})
	}
	return out, nil
}
