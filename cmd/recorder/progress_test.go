package main

import (
	"bytes"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/creack/pty"
)

// TestRecordSummaryAfterProgressOnCtrlC: on a terminal, Ctrl-C stops the progress line before
// the summary is printed, so the summary starts a line of its own.
func TestRecordSummaryAfterProgressOnCtrlC(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	for round := range 3 { // the defect was a race: a few rounds catch it nearly always
		path := out(t, "ctrl-c.mp4")
		cmd := exec.Command(recorderBin, "record", "--out", path, "--duration", "0", "--monitors", "2")
		cmd.Env = d.srv.Env()
		term, err := pty.Start(cmd) // stdin, stdout and stderr on the terminal, which controls it
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var screen bytes.Buffer
		read := make(chan struct{})
		go func() {
			defer close(read)
			buf := make([]byte, 4096)
			for {
				n, err := term.Read(buf)
				mu.Lock()
				screen.Write(buf[:n])
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
		shown := func() string { mu.Lock(); defer mu.Unlock(); return screen.String() }
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(shown(), " fps "); {
			if time.Now().After(deadline) {
				t.Fatalf("no progress line on the terminal: %q", shown())
			}
			time.Sleep(50 * time.Millisecond)
		}
		if _, err := term.Write([]byte{0x03}); err != nil { // Ctrl-C, as typed
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("recorder after Ctrl-C: %v\n%q", err, shown())
		}
		<-read
		term.Close()
		var summary string
		for _, l := range screenLines(shown()) {
			if strings.Contains(l, path+": ") {
				summary = l
			}
		}
		if !strings.HasPrefix(summary, path+": ") {
			t.Fatalf("round %d: the summary does not start its line: %q\nterminal output: %q", round, summary, shown())
		}
	}
}

// screenLines renders what a terminal shows of out, as far as the recorder writes: text,
// carriage returns, line feeds and erase to the end of the line (ESC [ K).
func screenLines(out string) []string {
	var lines []string
	var line []rune
	col := 0
	for i := 0; i < len(out); {
		switch {
		case strings.HasPrefix(out[i:], "\033[K"):
			line = line[:col]
			i += 3
		case out[i] == '\r':
			col = 0
			i++
		case out[i] == '\n':
			lines = append(lines, string(line))
			line, col = nil, 0
			i++
		default:
			r, n := utf8.DecodeRuneInString(out[i:])
			if col < len(line) {
				line[col] = r
			} else {
				line = append(line, r)
			}
			col++
			i += n
		}
	}
	return append(lines, string(line))
}
