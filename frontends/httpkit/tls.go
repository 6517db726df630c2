package httpkit

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certReloader serves the certificate of the files Options.CertFiles names, read again when
// a path, a file's modification time or its size changes. A renewal that cannot be read (a
// key half-written, say) keeps the certificate served so far, with a warning, and is tried
// again at the next handshake.
type certReloader struct {
	files func() (certFile, keyFile string)
	log   *slog.Logger

	mu    sync.Mutex
	stamp certStamp
	cert  *tls.Certificate
}

// certStamp identifies a version of the certificate files.
type certStamp struct {
	certFile, keyFile string
	certMod, keyMod   time.Time
	certSize, keySize int64
}

// get is tls.Config.GetCertificate.
func (c *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	certFile, keyFile := c.files()
	if certFile == "" || keyFile == "" {
		return nil, ErrNoCertificate
	}
	st := certStamp{certFile: certFile, keyFile: keyFile}
	ci, err1 := os.Stat(certFile)
	ki, err2 := os.Stat(keyFile)
	if err1 == nil && err2 == nil {
		st.certMod, st.certSize = ci.ModTime(), ci.Size()
		st.keyMod, st.keySize = ki.ModTime(), ki.Size()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cert != nil && st == c.stamp {
		return c.cert, nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrNoCertificate, err)
		if c.cert == nil {
			return nil, err
		}
		c.log.Warn("https: cannot load the certificate again: serving the previous one", "cert_file", certFile, "error", err)
		return c.cert, nil
	}
	if c.cert != nil {
		c.log.Info("https: certificate reloaded", "cert_file", certFile)
	}
	c.cert, c.stamp = &cert, st
	return c.cert, nil
}
