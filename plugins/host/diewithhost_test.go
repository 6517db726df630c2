package host

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/screenrec/recorder/plugins/builtin"
	"github.com/screenrec/recorder/plugins/sdk"
)

// TestHelperHostUntilKilled is not a test: TestPluginDiesWithItsHost runs it in a child
// process that hosts a probe plugin, prints the plugin's pid, and waits to be killed.
func TestHelperHostUntilKilled(t *testing.T) {
	exe := os.Getenv("HOST_TEST_BUILTIN")
	if exe == "" {
		t.Skip("helper process for TestPluginDiesWithItsHost")
	}
	h := New(&sdk.MockEngine{}, Options{BuiltinExecutable: exe})
	if err := h.Load(context.Background(), []Spec{{Name: "probe", Kind: sdk.KindFrontend}}); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("plugin", h.Pid(sdk.KindFrontend, "probe"))
	time.Sleep(time.Minute)
	os.Exit(3)
}

// A host killed outright (OOM, kill -9 of the service alone) takes its plugin processes with
// it: an orphaned plugin would keep its port and block the restarted recorder.
func TestPluginDiesWithItsHost(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHostUntilKilled$", "-test.count=1")
	cmd.Env = append(os.Environ(), "HOST_TEST_BUILTIN="+filepath.Join(binDir, builtin.Executable))
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	pid := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "plugin "); ok {
			pid, _ = strconv.Atoi(n)
			break
		}
	}
	if pid <= 0 {
		t.Fatal("the helper host did not start its plugin")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil { // the host alone, not its group
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(2 * time.Second)
	state := ""
	for time.Now().Before(deadline) {
		if state = procState(pid); state == "" || state == "Z" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	t.Fatalf("plugin %d outlived its host by 2 s (state %q)", pid, state)
}

// procState is the state letter of process pid ("R", "S", "Z"…), "" when there is none. A
// zombie is dead: it holds no port and runs nothing, it only waits for whoever adopted it
// to reap it, which a loaded machine's init may do late.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return ""
		}
		return "?"
	}
	// pid (comm) state ...: comm may hold spaces and parentheses, so read after the last ')'.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2 : i+3]
	}
	return "?"
}
