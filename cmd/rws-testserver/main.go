// Command rws-testserver runs the RWS test server (internal/rwsserver): tusd behind Basic
// authentication, the sha256 checksum checks and the /_test/ fault endpoints, for tests and
// demos. It prints "rws-testserver listening on http://host:port" on stdout once it serves,
// and runs until SIGINT or SIGTERM. Uploads are kept in -dir, so a server restarted on the
// same folder (even after kill -9) resumes them.
//
//	rws-testserver -listen 127.0.0.1:0 -dir /tmp/rws -user agent:secret -user svc:pw
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/screenrec/recorder/internal/rwsserver"
)

// shutdownTimeout bounds the wait for requests in flight after a signal.
const shutdownTimeout = 5 * time.Second

// userFlags collects repeated -user name:password flags.
type userFlags map[string]string

func (u userFlags) String() string {
	names := make([]string, 0, len(u))
	for n := range u {
		names = append(names, n)
	}
	return strings.Join(names, ",")
}

func (u userFlags) Set(v string) error {
	name, pw, ok := strings.Cut(v, ":")
	if !ok || name == "" {
		return errors.New(`want name:password`)
	}
	u[name] = pw
	return nil
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "rws-testserver:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rws-testserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", rwsserver.DefaultListen, "address to listen on, host:port (port 0: any free port)")
	dir := fs.String("dir", "", "folder to keep uploads in (required; reuse it to resume uploads after a restart)")
	users := userFlags{}
	fs.Var(users, "user", "a login accepted, name:password (repeatable)")
	requestLog := fs.Bool("request-log", false, "print tusd's request log on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		fs.Usage()
		return errors.New("-dir is required")
	}
	if len(users) == 0 {
		fmt.Fprintln(stderr, "rws-testserver: warning: no -user given: every request will be answered 401")
	}
	// tusd logs through golang.org/x/exp/slog's default logger, which writes to the log
	// package's output.
	log.SetOutput(stderr)
	if !*requestLog {
		log.SetOutput(io.Discard)
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := rwsserver.Start(ctx, rwsserver.Config{Dir: *dir, Listen: *listen, Users: users, Logger: logger})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rws-testserver listening on %s\n", srv.URL())
	<-ctx.Done()
	logger.Info("stopping")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	return srv.Shutdown(sctx)
}
