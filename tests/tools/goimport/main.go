// Command goimport serves go-get pages (<meta name="go-import" ...>) over
// HTTPS for made-up host names, for tests of modproxy's discovery.
//
//	goimport -pages DIR -hosts a.example,b.example -addr-file F -ca-out F [-log F]
//
// A request for https://HOST/PATH?go-get=1 is answered with the file
// DIR/HOST/PATH/go-get.html (DIR/HOST/go-get.html for "/"): 200 when it
// exists, else 404 with a page without meta tags; when DIR/HOST/PATH/redirect
// exists, with a 302 to the URL it holds. Every request is
// appended to -log as "HOST PATH?QUERY".
//
// Clients reach the made-up hosts through an HTTP CONNECT proxy that this
// command also runs (HTTPS_PROXY=http://<proxy address>): every CONNECT,
// whatever its host, is tunnelled to the HTTPS listener. The certificate
// is issued for -hosts by a fresh CA, written as PEM to -ca-out (trust it
// with SSL_CERT_FILE or modproxy's --upstream-ca).
//
// -addr-file receives "https=HOST:PORT proxy=HOST:PORT" once both listen.
// SIGTERM/SIGINT: exit 0.
package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

var (
	pages    = flag.String("pages", "", "directory of go-get pages")
	hosts    = flag.String("hosts", "", "comma-separated host names the certificate is for")
	addrFile = flag.String("addr-file", "", "write the listen addresses here")
	caOut    = flag.String("ca-out", "", "write the CA certificate here (PEM)")
	logFile  = flag.String("log", "", "append every request here")
)

var (
	logMu sync.Mutex
	logF  *os.File
)

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "goimport: "+format+"\n", args...)
	os.Exit(1)
}

func logLine(s string) {
	if logF == nil {
		return
	}
	logMu.Lock()
	logF.Write([]byte(s + "\n"))
	logMu.Unlock()
}

func main() {
	flag.Parse()
	if *pages == "" || *hosts == "" || *addrFile == "" || *caOut == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: goimport -pages DIR -hosts H1,H2 -addr-file F -ca-out F [-log F]")
		os.Exit(2)
	}
	if *logFile != "" {
		f, err := os.OpenFile(*logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			fatal("%v", err)
		}
		logF = f
	}
	cert, err := issue(strings.Split(*hosts, ","), *caOut)
	if err != nil {
		fatal("certificate: %v", err)
	}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatal("%v", err)
	}
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatal("%v", err)
	}
	httpsAddr := tl.Addr().String()
	go func() {
		srv := &http.Server{Handler: http.HandlerFunc(serve)}
		fatal("%v", srv.Serve(tls.NewListener(tl, &tls.Config{Certificates: []tls.Certificate{cert}})))
	}()
	go func() {
		for {
			c, err := pl.Accept()
			if err != nil {
				fatal("%v", err)
			}
			go tunnel(c, httpsAddr)
		}
	}()
	tmp := *addrFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(fmt.Sprintf("https=%s proxy=%s\n", httpsAddr, pl.Addr())), 0o644); err != nil {
		fatal("%v", err)
	}
	if err := os.Rename(tmp, *addrFile); err != nil {
		fatal("%v", err)
	}
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}

func serve(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	logLine(host + " " + r.URL.RequestURI())
	p := path.Clean("/" + r.URL.Path)
	if strings.Contains(host, "/") || strings.HasPrefix(host, ".") {
		http.NotFound(w, r)
		return
	}
	dir := filepath.Join(*pages, host, filepath.FromSlash(p))
	if to, err := os.ReadFile(filepath.Join(dir, "redirect")); err == nil {
		http.Redirect(w, r, strings.TrimSpace(string(to)), http.StatusFound)
		return
	}
	body, err := os.ReadFile(filepath.Join(dir, "go-get.html"))
	if err != nil {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "<html><head><title>Not found</title></head><body>no such page</body></html>\n")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(body)
}

// tunnel answers one proxy connection: CONNECT HOST:PORT -> the HTTPS listener.
func tunnel(c net.Conn, to string) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	if req.Method != http.MethodConnect {
		io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		return
	}
	logLine("CONNECT " + req.Host)
	up, err := net.Dial("tcp", to)
	if err != nil {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	defer up.Close()
	c.SetDeadline(time.Time{})
	io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	done := make(chan struct{}, 2)
	go func() {
		if n := br.Buffered(); n > 0 {
			b, _ := br.Peek(n)
			up.Write(b)
		}
		io.Copy(up, c)
		done <- struct{}{}
	}()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
}

// issue makes a CA (written to caFile) and a certificate for names signed by it.
func issue(names []string, caFile string) (tls.Certificate, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "goimport test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     names,
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	pemData := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	if err := os.WriteFile(caFile, pemData, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}, nil
}
