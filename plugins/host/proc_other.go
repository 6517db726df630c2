//go:build !linux

package host

import "os/exec"

// dieWithHost has no kernel support here; plugins end when the host closes them.
func dieWithHost(cmd *exec.Cmd) *exec.Cmd { return cmd }
