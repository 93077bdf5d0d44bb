// Command upstream serves a static GOPROXY tree (as written by mkproxy or a
// go download cache) over HTTP or HTTPS, for use as modproxy's upstream in
// tests.
//
//	upstream -root DIR -listen 127.0.0.1:0 -addr-file F -log F
//	         [-tls-cert-out F] [-delay DURATION] [-fail-every N] [-fail-status CODE]
//	         [-missing-status CODE] [-missing-body TEXT]
//	         [-basic-auth USER:PASSWORD]
//
// Every request path (percent-decoded) is mapped to a file under -root;
// missing files, directories and escapes yield 404. Paths under /sumdb/ are
// served from <root>/sumdb/ the same way. Only GET and HEAD are allowed.
//
// Once listening, the actual host:port is written atomically to -addr-file.
// Every request's raw request URI is appended to -log (one line each, written
// with a single unbuffered write when the request arrives, before -delay).
// With -tls-cert-out, a fresh self-signed certificate for 127.0.0.1, ::1 and
// localhost is generated and written there as PEM, and HTTPS is served; the
// client trusts it via SSL_CERT_FILE / curl --cacert.
// -fail-every N makes every Nth request (N, 2N, ...) answer -fail-status.
// -missing-status and -missing-body: the answer for a missing file (404).
// -basic-auth USER:PASSWORD answers 401 to every request without those
// credentials (HTTP Basic), as a private upstream does; the log then marks
// each request line with " (anonymous)", " (wrong credentials)" or nothing.
// SIGTERM/SIGINT: graceful shutdown, exit 0.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var (
	root       = flag.String("root", "", "GOPROXY tree to serve")
	listen     = flag.String("listen", "127.0.0.1:0", "listen address")
	addrFile   = flag.String("addr-file", "", "write the actual listen address (host:port) here")
	logFile    = flag.String("log", "", "append every request URI to this file")
	certOut    = flag.String("tls-cert-out", "", "serve HTTPS with a fresh self-signed cert, written as PEM to this file")
	delay      = flag.Duration("delay", 0, "delay every response by this long")
	failEvery  = flag.Int("fail-every", 0, "make every Nth request fail (0 = never)")
	failStatus = flag.Int("fail-status", http.StatusInternalServerError, "status code for -fail-every failures")
	// A module proxy may answer otherwise for a file it does not have:
	// 403 "This module version is not available." for a toolchain.
	missingStatus = flag.Int("missing-status", http.StatusNotFound, "status code for a missing file")
	missingBody   = flag.String("missing-body", "404 page not found", "body for a missing file")
	basicAuth  = flag.String("basic-auth", "", "require these credentials (USER:PASSWORD, HTTP Basic) on every request")
)

var (
	logMu   sync.Mutex
	logF    *os.File
	counter atomic.Int64
)

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "upstream: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	flag.Parse()
	if *root == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: upstream -root DIR [-listen ADDR] [-addr-file F] [-log F] [-tls-cert-out F] [-delay D] [-fail-every N] [-fail-status CODE] [-basic-auth USER:PASSWORD]")
		os.Exit(2)
	}
	if st, err := os.Stat(*root); err != nil || !st.IsDir() {
		fatal("-root %s is not a directory", *root)
	}
	if *logFile != "" {
		f, err := os.OpenFile(*logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			fatal("%v", err)
		}
		logF = f
	}

	l, err := net.Listen("tcp", *listen)
	if err != nil {
		fatal("%v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(handle)}
	if *certOut != "" {
		cert, err := selfSigned(*certOut)
		if err != nil {
			fatal("generating certificate: %v", err)
		}
		l = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}})
	}
	if *addrFile != "" {
		if err := writeAtomic(*addrFile, []byte(l.Addr().String()+"\n")); err != nil {
			fatal("%v", err)
		}
	}

	done := make(chan struct{})
	go func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
		<-c
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		close(done)
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		fatal("%v", err)
	}
	<-done
}

// authorized reports whether r carries the -basic-auth credentials, and
// the mark its log line gets.
func authorized(r *http.Request) (bool, string) {
	if *basicAuth == "" {
		return true, ""
	}
	user, password, ok := r.BasicAuth()
	switch {
	case !ok:
		return false, " (anonymous)"
	case user+":"+password != *basicAuth:
		return false, " (wrong credentials)"
	}
	return true, ""
}

func handle(w http.ResponseWriter, r *http.Request) {
	ok, mark := authorized(r)
	if logF != nil {
		logMu.Lock()
		logF.Write([]byte(r.RequestURI + mark + "\n"))
		logMu.Unlock()
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="upstream"`)
		http.Error(w, "upstream: credentials required", http.StatusUnauthorized)
		return
	}
	n := counter.Add(1)
	if *delay > 0 {
		select {
		case <-time.After(*delay):
		case <-r.Context().Done():
			return
		}
	}
	if *failEvery > 0 && n%int64(*failEvery) == 0 {
		http.Error(w, "upstream: injected failure", *failStatus)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if !strings.HasPrefix(p, "/") || path.Clean(p) != p || strings.Contains(p, "\\") || strings.ContainsRune(p, 0) {
		http.NotFound(w, r)
		return
	}
	name := filepath.Join(*root, filepath.FromSlash(p))
	f, err := os.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			http.Error(w, *missingBody, *missingStatus)
		} else {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType(p))
	h.Set("Content-Length", strconv.FormatInt(st.Size(), 10))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		buf := make([]byte, 32<<10)
		for {
			k, err := f.Read(buf)
			if k > 0 {
				if _, werr := w.Write(buf[:k]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
}

func contentType(p string) string {
	switch {
	case strings.HasSuffix(p, ".info"), strings.HasSuffix(p, "/@latest"):
		return "application/json"
	case strings.HasSuffix(p, ".zip"):
		return "application/zip"
	case strings.HasPrefix(p, "/sumdb/") && strings.Contains(p, "/tile/"):
		return "application/octet-stream"
	}
	return "text/plain; charset=utf-8"
}

func writeAtomic(name string, data []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

// selfSigned makes a self-signed CA-capable certificate for 127.0.0.1, ::1 and
// localhost, writes it as PEM to certFile and returns it with its key.
func selfSigned(certFile string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "modproxy test upstream", Organization: []string{"modproxy tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := writeAtomic(certFile, certPEM); err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
