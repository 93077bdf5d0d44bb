// Command faulty serves a static GOPROXY tree like tests/tools/upstream, but
// misbehaves on request paths that match its rules: it is the hostile
// upstream of the tests/reliability suite.
//
//	faulty -root DIR [-listen 127.0.0.1:0] [-addr-file F] [-log F]
//	       [-rules FILE] [-rule 'REGEX ACTION [ARG]']...
//	       [-tls-cert F -tls-key F]
//	faulty -gen-certs DIR
//
// A rule is a line "REGEX ACTION [ARG]": REGEX (Go syntax, unanchored) is
// matched against the percent-decoded request path; the first matching rule
// applies. -rule may be repeated; -rules FILE holds one rule per line ('#'
// starts a comment) and is read again whenever it changes (its size,
// modification time or inode), so a test can add and remove faults while
// both servers run. With no matching rule the file is served as by
// tests/tools/upstream (404 when it does not exist).
//
// Actions (N is a byte count; "the file" is the one the path names, which
// must exist unless the action makes up its own body):
//
//	reset N         correct headers, the first N bytes, then a TCP reset
//	close N         correct headers, the first N bytes, then a clean close
//	stall           read the request, never answer (until the client leaves)
//	stall-body N    correct headers, the first N bytes, then nothing more
//	pause N         correct headers, the first N bytes, a pause of pauseFor,
//	                then the rest (a slow but sound upstream)
//	short-length N  Content-Length N bytes less than the file, whole file sent
//	long-length N   Content-Length N bytes more than the file, then a close
//	garbage         bytes that are not HTTP at all, then a close
//	desync          a sound answer on a connection kept open, whose next
//	                request gets stray bytes (the tail of a body) as its
//	                answer, then a close: a connection out of step
//	bad-chunked     chunked encoding: one good chunk, then a broken size line
//	body TEXT       200 with TEXT (rest of the line) as the whole body
//	truncate N      200 with the first N bytes as the whole, self-consistent body
//	redirect-loop   302 between PATH and PATH?loop, forever
//	status CODE     answer with that status and a short text/plain body
//	ok              serve normally (to exempt paths from a later rule)
//
// With -tls-cert and -tls-key, HTTPS is served with that certificate.
// -gen-certs DIR writes test certificates and exits: ca.crt (a CA), and
// good, wronghost, expired, selfsigned .crt/.key pairs: good is signed by
// the CA for 127.0.0.1/::1/localhost; wronghost is signed by the CA for
// wrong.example only; expired is signed by the CA for 127.0.0.1 but expired
// yesterday; selfsigned is valid for 127.0.0.1 but signed by itself.
//
// Once listening, host:port is written atomically to -addr-file. Every
// request's raw request URI is appended to -log (one line each, when the
// request arrives). What each faulty answer did goes to stderr.
// SIGTERM/SIGINT: exit 0 (connections held by stalls are dropped).
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
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type ruleList []string

func (r *ruleList) String() string     { return strings.Join(*r, "; ") }
func (r *ruleList) Set(s string) error { *r = append(*r, s); return nil }

var (
	root     = flag.String("root", "", "GOPROXY tree to serve")
	listen   = flag.String("listen", "127.0.0.1:0", "listen address")
	addrFile = flag.String("addr-file", "", "write the actual listen address (host:port) here")
	logFile  = flag.String("log", "", "append every request URI to this file")
	rulesArg = flag.String("rules", "", "file of rules, one per line, re-read when it changes")
	tlsCert  = flag.String("tls-cert", "", "serve HTTPS with this PEM certificate (chain)")
	tlsKey   = flag.String("tls-key", "", "PEM private key for -tls-cert")
	genCerts = flag.String("gen-certs", "", "write test certificates into this directory and exit")
	cliRules ruleList
)

type rule struct {
	re     *regexp.Regexp
	action string
	arg    string
	n      int64
	line   string
}

// How long "pause" holds the rest of a body back.
const pauseFor = 2 * time.Second

var actions = map[string]bool{ // action -> takes a numeric argument
	"reset": true, "close": true, "stall": false, "stall-body": true, "pause": true,
	"short-length": true, "long-length": true, "garbage": false, "desync": false,
	"bad-chunked": false, "body": false, "truncate": true,
	"redirect-loop": false, "status": true, "ok": false,
}

func parseRule(line string) (*rule, error) {
	f := strings.Fields(line)
	if len(f) < 2 {
		return nil, fmt.Errorf("rule %q: want REGEX ACTION [ARG]", line)
	}
	re, err := regexp.Compile(f[0])
	if err != nil {
		return nil, fmt.Errorf("rule %q: %v", line, err)
	}
	numeric, ok := actions[f[1]]
	if !ok {
		return nil, fmt.Errorf("rule %q: unknown action %q", line, f[1])
	}
	r := &rule{re: re, action: f[1], line: line}
	if f[1] == "body" {
		// The rest of the line after the action, verbatim.
		rest := strings.TrimSpace(strings.TrimSpace(line)[len(f[0]):])
		r.arg = strings.TrimSpace(strings.TrimPrefix(rest, "body"))
	} else if len(f) > 2 {
		r.arg = f[2]
	}
	if numeric {
		if r.n, err = strconv.ParseInt(r.arg, 10, 64); err != nil || r.n < 0 {
			return nil, fmt.Errorf("rule %q: %s needs a number", line, f[1])
		}
	}
	return r, nil
}

// ---- rules, with the -rules file re-read when it changes --------------------

var (
	rulesMu    sync.Mutex
	fileRules  []*rule
	fileStamp  string
	fixedRules []*rule
)

func stampOf(st os.FileInfo) string {
	ino := uint64(0)
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		ino = s.Ino
	}
	return fmt.Sprintf("%d/%d/%d", st.Size(), st.ModTime().UnixNano(), ino)
}

func loadRules(text string) ([]*rule, error) {
	var out []*rule
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r, err := parseRule(line)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// currentRules: the -rule flags, then the -rules file (re-read if changed;
// a missing file means no rules, a bad one keeps the previous rules).
func currentRules() []*rule {
	rulesMu.Lock()
	defer rulesMu.Unlock()
	if *rulesArg != "" {
		st, err := os.Stat(*rulesArg)
		switch {
		case err != nil:
			fileRules, fileStamp = nil, ""
		case stampOf(st) != fileStamp:
			data, err := os.ReadFile(*rulesArg)
			if err == nil {
				var rs []*rule
				if rs, err = loadRules(string(data)); err == nil {
					fileRules, fileStamp = rs, stampOf(st)
					log.Printf("rules: %d from %s", len(rs), *rulesArg)
				}
			}
			if err != nil {
				log.Printf("rules: keeping the previous rules: %v", err)
			}
		}
	}
	return append(append([]*rule(nil), fixedRules...), fileRules...)
}

func match(p string) *rule {
	for _, r := range currentRules() {
		if r.re.MatchString(p) {
			return r
		}
	}
	return nil
}

// ---- serving -----------------------------------------------------------------

var (
	logMu sync.Mutex
	logF  *os.File
)

func main() {
	flag.Var(&cliRules, "rule", "a rule 'REGEX ACTION [ARG]' (repeatable)")
	flag.Parse()
	log.SetPrefix("faulty: ")
	log.SetFlags(log.Lmicroseconds)
	if *genCerts != "" {
		if err := writeCerts(*genCerts); err != nil {
			log.Fatal(err)
		}
		return
	}
	if *root == "" || flag.NArg() != 0 || (*tlsCert == "") != (*tlsKey == "") {
		fmt.Fprintln(os.Stderr, "usage: faulty -root DIR [-listen ADDR] [-addr-file F] [-log F] [-rules FILE] [-rule 'REGEX ACTION [ARG]']... [-tls-cert F -tls-key F]\n       faulty -gen-certs DIR")
		os.Exit(2)
	}
	if st, err := os.Stat(*root); err != nil || !st.IsDir() {
		log.Fatalf("-root %s is not a directory", *root)
	}
	for _, line := range cliRules {
		r, err := parseRule(line)
		if err != nil {
			log.Fatal(err)
		}
		fixedRules = append(fixedRules, r)
	}
	if *rulesArg != "" {
		if data, err := os.ReadFile(*rulesArg); err == nil {
			if _, err := loadRules(string(data)); err != nil {
				log.Fatal(err)
			}
		}
	}
	if *logFile != "" {
		f, err := os.OpenFile(*logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			log.Fatal(err)
		}
		logF = f
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	if *tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			log.Fatal(err)
		}
		l = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}})
	}
	if *addrFile != "" {
		if err := writeAtomic(*addrFile, []byte(l.Addr().String()+"\n")); err != nil {
			log.Fatal(err)
		}
	}
	srv := &http.Server{Handler: http.HandlerFunc(handle), ErrorLog: log.Default()}
	go func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
		<-c
		// Stalled handlers never finish: no graceful drain.
		srv.Close()
		os.Exit(0)
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

func handle(w http.ResponseWriter, r *http.Request) {
	if logF != nil {
		logMu.Lock()
		logF.Write([]byte(r.RequestURI + "\n"))
		logMu.Unlock()
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	ru := match(p)
	if ru != nil && ru.action != "ok" {
		log.Printf("%s %s: %s", r.Method, r.RequestURI, ru.line)
		misbehave(w, r, ru)
		return
	}
	data, ok := readFile(p)
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType(p))
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(data)
	}
}

// readFile maps a request path onto -root, as tests/tools/upstream does.
func readFile(p string) ([]byte, bool) {
	if !strings.HasPrefix(p, "/") || path.Clean(p) != p || strings.Contains(p, "\\") || strings.ContainsRune(p, 0) {
		return nil, false
	}
	name := filepath.Join(*root, filepath.FromSlash(p))
	st, err := os.Stat(name)
	if err != nil || !st.Mode().IsRegular() {
		if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			log.Printf("%s: %v", name, err)
		}
		return nil, false
	}
	data, err := os.ReadFile(name)
	return data, err == nil
}

func clip(data []byte, n int64) []byte {
	if n > int64(len(data)) {
		n = int64(len(data))
	}
	return data[:n]
}

func head(status int, ctype string, length int64, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	fmt.Fprintf(&b, "Content-Type: %s\r\n", ctype)
	if length >= 0 {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", length)
	}
	for _, e := range extra {
		b.WriteString(e + "\r\n")
	}
	b.WriteString("Date: " + time.Now().UTC().Format(http.TimeFormat) + "\r\n\r\n")
	return b.String()
}

// hijack takes the raw connection (the TCP connection under TLS, too).
func hijack(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter, bool) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		log.Printf("cannot hijack the connection")
		return nil, nil, false
	}
	c, rw, err := hj.Hijack()
	if err != nil {
		log.Printf("hijack: %v", err)
		return nil, nil, false
	}
	return c, rw, true
}

func tcpOf(c net.Conn) *net.TCPConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	t, _ := c.(*net.TCPConn)
	return t
}

// rawWrite writes the pieces to the hijacked connection and flushes them.
func rawWrite(c net.Conn, rw *bufio.ReadWriter, pieces ...[]byte) {
	for _, p := range pieces {
		rw.Writer.Write(p)
	}
	if err := rw.Writer.Flush(); err != nil {
		log.Printf("write: %v", err)
	}
}

func misbehave(w http.ResponseWriter, r *http.Request, ru *rule) {
	p := r.URL.Path
	ct := contentType(p)
	get := r.Method == http.MethodGet
	var data []byte
	switch ru.action {
	case "reset", "close", "stall-body", "pause", "short-length", "long-length", "bad-chunked", "truncate", "desync":
		var ok bool
		if data, ok = readFile(p); !ok {
			http.NotFound(w, r)
			return
		}
	}
	body := func(b []byte) []byte {
		if get {
			return b
		}
		return nil
	}
	switch ru.action {
	case "reset", "close":
		c, rw, ok := hijack(w)
		if !ok {
			return
		}
		rawWrite(c, rw, []byte(head(200, ct, int64(len(data)))), body(clip(data, ru.n)))
		time.Sleep(50 * time.Millisecond) // let the bytes leave before the reset
		if t := tcpOf(c); ru.action == "reset" && t != nil {
			t.SetLinger(0) // Close sends RST
			t.Close()
			return
		}
		c.Close()
	case "stall":
		<-r.Context().Done()
	case "stall-body", "pause":
		h := w.Header()
		h.Set("Content-Type", ct)
		h.Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(200)
		first := clip(data, ru.n)
		w.Write(body(first))
		w.(http.Flusher).Flush()
		if ru.action == "stall-body" {
			<-r.Context().Done()
			return
		}
		time.Sleep(pauseFor)
		w.Write(body(data[len(first):]))
	case "short-length", "long-length":
		n := int64(len(data)) - ru.n
		if ru.action == "long-length" {
			n = int64(len(data)) + ru.n
		}
		if n < 0 {
			n = 0
		}
		c, rw, ok := hijack(w)
		if !ok {
			return
		}
		rawWrite(c, rw, []byte(head(200, ct, n)), body(data))
		time.Sleep(50 * time.Millisecond)
		c.Close()
	case "garbage":
		c, rw, ok := hijack(w)
		if !ok {
			return
		}
		junk := []byte("SSH-2.0-OpenSSH_9.2 not an http server\r\n\x00\x01\x02\xff\xfe garbage garbage\r\n\r\n")
		rawWrite(c, rw, junk)
		time.Sleep(50 * time.Millisecond)
		c.Close()
	case "desync":
		c, rw, ok := hijack(w)
		if !ok {
			return
		}
		rawWrite(c, rw, []byte(head(200, ct, int64(len(data)))), body(data))
		next, err := http.ReadRequest(rw.Reader)
		if err != nil {
			c.Close()
			return
		}
		log.Printf("desync: %s %s on the same connection: stray bytes", next.Method, next.URL.Path)
		rawWrite(c, rw, []byte("3 bytes of a body's tail\r\n"))
		time.Sleep(50 * time.Millisecond)
		c.Close()
	case "bad-chunked":
		c, rw, ok := hijack(w)
		if !ok {
			return
		}
		first := clip(data, int64(len(data)/2))
		var b strings.Builder
		fmt.Fprintf(&b, "%x\r\n", len(first))
		chunk := append([]byte(b.String()), first...)
		chunk = append(chunk, "\r\nzz-not-a-size\r\nmore bytes\r\n0\r\n\r\n"...)
		rawWrite(c, rw, []byte(head(200, ct, -1, "Transfer-Encoding: chunked")), body(chunk))
		time.Sleep(50 * time.Millisecond)
		c.Close()
	case "body":
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Length", strconv.Itoa(len(ru.arg)))
		w.WriteHeader(200)
		w.Write(body([]byte(ru.arg)))
	case "truncate":
		b := clip(data, ru.n)
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(200)
		w.Write(body(b))
	case "redirect-loop":
		to := p + "?loop"
		if r.URL.RawQuery != "" {
			to = p
		}
		http.Redirect(w, r, to, http.StatusFound)
	case "status":
		http.Error(w, fmt.Sprintf("faulty: injected status %d", ru.n), int(ru.n))
	}
}

func contentType(p string) string {
	switch {
	case strings.HasSuffix(p, ".info"), strings.HasSuffix(p, "/@latest"):
		return "application/json"
	case strings.HasSuffix(p, ".zip"):
		return "application/zip"
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

// ---- certificates ----------------------------------------------------------

type certSpec struct {
	name       string
	dns        []string
	ips        []net.IP
	notBefore  time.Time
	notAfter   time.Time
	selfSigned bool
}

func writeCerts(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "faulty test CA", Organization: []string{"modproxy tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	if err := writePEM(filepath.Join(dir, "ca.crt"), "CERTIFICATE", caDER); err != nil {
		return err
	}
	local := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	specs := []certSpec{
		{name: "good", dns: []string{"localhost"}, ips: local, notBefore: now.Add(-time.Hour), notAfter: now.Add(7 * 24 * time.Hour)},
		{name: "wronghost", dns: []string{"wrong.example"}, notBefore: now.Add(-time.Hour), notAfter: now.Add(7 * 24 * time.Hour)},
		{name: "expired", dns: []string{"localhost"}, ips: local, notBefore: now.Add(-30 * 24 * time.Hour), notAfter: now.Add(-24 * time.Hour)},
		{name: "selfsigned", dns: []string{"localhost"}, ips: local, notBefore: now.Add(-time.Hour), notAfter: now.Add(7 * 24 * time.Hour), selfSigned: true},
	}
	for i, s := range specs {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i + 2)),
			Subject:      pkix.Name{CommonName: s.name + " test server", Organization: []string{"modproxy tests"}},
			NotBefore:    s.notBefore,
			NotAfter:     s.notAfter,
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			DNSNames:     s.dns,
			IPAddresses:  s.ips,
		}
		parent, signer := caCert, any(caKey)
		if s.selfSigned {
			tmpl.KeyUsage |= x509.KeyUsageCertSign
			tmpl.BasicConstraintsValid, tmpl.IsCA = true, true
			parent, signer = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer.(*ecdsa.PrivateKey))
		if err != nil {
			return err
		}
		kder, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return err
		}
		if err := writePEM(filepath.Join(dir, s.name+".crt"), "CERTIFICATE", der); err != nil {
			return err
		}
		if err := writePEM(filepath.Join(dir, s.name+".key"), "EC PRIVATE KEY", kder); err != nil {
			return err
		}
	}
	return nil
}

func writePEM(name, typ string, der []byte) error {
	return writeAtomic(name, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}
