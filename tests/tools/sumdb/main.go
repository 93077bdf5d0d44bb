// Command sumdb serves a test checksum database (golang.org/x/mod/sumdb)
// for a GOPROXY tree in the download-cache layout (as mkproxy writes it),
// signed with a key generated at start, on 127.0.0.1.
//
//	sumdb -root DIR -name NAME -listen 127.0.0.1:0 -addr-file F -key-file F -log F
//
// At start every version under -root that has a .mod gets a record, in
// sorted (path, version) order, so the tree is fixed for the run: its
// go.sum lines are "<path> <version> h1:<zip hash>" (when the zip can be
// hashed) and "<path> <version>/go.mod h1:<go.mod hash>", computed with
// x/mod's dirhash as the go command computes them. A lookup for anything
// else answers 404.
//
// The verifier key (NAME+HASH+KEY, for GOSUMDB and modproxy's --sumdb) is
// written atomically to -key-file, the actual host:port to -addr-file, and
// every request URI to -log (one line each). The database's own paths are
// served at the root (/lookup/, /latest, /tile/) and, as a proxy would
// serve them, under /sumdb/NAME/ (with /sumdb/NAME/supported).
//
// -fault makes the database misbehave in one way, for tests of the clients
// that must notice (its answers to /lookup/ and /tile/ only; /latest and
// data tiles are served as they are):
//
//	badsig        every signature of a lookup's note has a bit flipped
//	wrongkey      -key-file gets the key of another signer of the same name
//	notintree     a lookup's record names another h1 for the zip, under the
//	              real signed tree (its inclusion proof fails)
//	otherversion  a lookup answers with the record of another version (the
//	              next one of the same module, else the next record)
//	badtile       every byte of every hash tile is inverted
//	notiles       every hash tile answers 500
//
// SIGTERM/SIGINT: exit 0.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/mod/sumdb/note"
)

var (
	root     = flag.String("root", "", "GOPROXY tree whose versions the database records")
	name     = flag.String("name", "sumdb.example.test", "database name")
	listen   = flag.String("listen", "127.0.0.1:0", "listen address")
	addrFile = flag.String("addr-file", "", "write host:port here")
	keyFile  = flag.String("key-file", "", "write the verifier key here")
	logFile  = flag.String("log", "", "append every request URI here")
	fault    = flag.String("fault", "", "badsig, wrongkey, notintree, otherversion, badtile or notiles")
)

var faults = map[string]bool{"": true, "badsig": true, "wrongkey": true, "notintree": true,
	"otherversion": true, "badtile": true, "notiles": true}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "sumdb: "+format+"\n", args...)
	os.Exit(1)
}

func writeAtomic(name string, data []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

// gosumLines computes the record of path@version from the tree.
func gosumLines(dir, path, version string) ([]byte, error) {
	ev, err := module.EscapeVersion(version)
	if err != nil {
		return nil, err
	}
	base := filepath.Join(dir, ev)
	mod, err := os.ReadFile(base + ".mod")
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	if h, err := dirhash.HashZip(base+".zip", dirhash.Hash1); err == nil {
		fmt.Fprintf(&b, "%s %s %s\n", path, version, h)
	}
	h, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(string(mod))), nil
	})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(&b, "%s %s/go.mod %s\n", path, version, h)
	return []byte(b.String()), nil
}

func main() {
	flag.Parse()
	if *root == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: sumdb -root DIR [-name NAME] [-listen ADDR] [-addr-file F] [-key-file F] [-log F]")
		os.Exit(2)
	}
	if !faults[*fault] {
		fatal("unknown -fault %q", *fault)
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, *name)
	if err != nil {
		fatal("%v", err)
	}
	if *fault == "wrongkey" {
		if _, vkey, err = note.GenerateKey(rand.Reader, *name); err != nil {
			fatal("%v", err)
		}
	}
	records := map[string][]byte{}
	var keys []module.Version
	err = filepath.WalkDir(*root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".mod") || filepath.Base(filepath.Dir(p)) != "@v" {
			return nil
		}
		rel, _ := filepath.Rel(*root, filepath.Dir(filepath.Dir(p)))
		mpath, err := module.UnescapePath(filepath.ToSlash(rel))
		if err != nil {
			return nil
		}
		vers, err := module.UnescapeVersion(strings.TrimSuffix(filepath.Base(p), ".mod"))
		if err != nil {
			return nil
		}
		lines, err := gosumLines(filepath.Dir(p), mpath, vers)
		if err != nil {
			return nil
		}
		m := module.Version{Path: mpath, Version: vers}
		records[m.String()] = lines
		keys = append(keys, m)
		return nil
	})
	if err != nil {
		fatal("%v", err)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Path != keys[j].Path {
			return keys[i].Path < keys[j].Path
		}
		return keys[i].Version < keys[j].Version
	})
	ts := sumdb.NewTestServer(skey, func(path, vers string) ([]byte, error) {
		if r, ok := records[path+"@"+vers]; ok {
			return r, nil
		}
		return nil, fs.ErrNotExist
	})
	for _, m := range keys {
		if _, err := ts.Lookup(context.Background(), m); err != nil {
			fatal("%v", err)
		}
	}
	srv := faulty(sumdb.NewServer(ts), keys)
	var logMu sync.Mutex
	var logF *os.File
	if *logFile != "" {
		if logF, err = os.OpenFile(*logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err != nil {
			fatal("%v", err)
		}
	}
	prefix := "/sumdb/" + *name
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if logF != nil {
			logMu.Lock()
			logF.Write([]byte(r.RequestURI + "\n"))
			logMu.Unlock()
		}
		if strings.HasPrefix(r.URL.Path, prefix+"/") {
			rest := strings.TrimPrefix(r.URL.Path, prefix)
			if rest == "/supported" {
				w.WriteHeader(http.StatusOK)
				return
			}
			r2 := r.Clone(r.Context())
			r2.URL.Path = rest
			r2.URL.RawPath = ""
			srv.ServeHTTP(w, r2)
			return
		}
		srv.ServeHTTP(w, r)
	})
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		fatal("%v", err)
	}
	if *keyFile != "" {
		if err := writeAtomic(*keyFile, []byte(vkey+"\n")); err != nil {
			fatal("%v", err)
		}
	}
	if *addrFile != "" {
		if err := writeAtomic(*addrFile, []byte(l.Addr().String()+"\n")); err != nil {
			fatal("%v", err)
		}
	}
	hs := &http.Server{Handler: handler}
	done := make(chan struct{})
	go func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
		<-c
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
		close(done)
	}()
	if err := hs.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		fatal("%v", err)
	}
	<-done
}

// faulty wraps the database's handler with the -fault misbehaviour.
func faulty(h http.Handler, keys []module.Version) http.Handler {
	if *fault == "" || *fault == "wrongkey" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lookup := strings.HasPrefix(r.URL.Path, "/lookup/")
		tile := strings.HasPrefix(r.URL.Path, "/tile/") && !strings.Contains(r.URL.Path, "/data/")
		if !lookup && !tile {
			h.ServeHTTP(w, r)
			return
		}
		if tile && *fault == "notiles" {
			http.Error(w, "tile storage is down", http.StatusInternalServerError)
			return
		}
		if lookup && *fault == "otherversion" {
			r = r.Clone(r.Context())
			r.URL.Path = "/lookup/" + otherRecord(strings.TrimPrefix(r.URL.Path, "/lookup/"), keys)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if rec.Code == http.StatusOK {
			switch {
			case lookup && *fault == "badsig":
				body = flipSignatures(body)
			case lookup && *fault == "notintree":
				if i := bytes.Index(body, []byte(" h1:")); i >= 0 {
					body[i+4] = map[bool]byte{true: 'Y', false: 'X'}[body[i+4] == 'X']
				}
			case tile && *fault == "badtile":
				for i := range body {
					body[i] ^= 0xff
				}
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		w.Write(body)
	})
}

// otherRecord is the escaped lookup path of another record than esc's:
// the next version of the same module, else the next record.
func otherRecord(esc string, keys []module.Version) string {
	at := strings.LastIndex(esc, "@")
	if at < 0 || len(keys) < 2 {
		return esc
	}
	p, err1 := module.UnescapePath(esc[:at])
	v, err2 := module.UnescapeVersion(esc[at+1:])
	if err1 != nil || err2 != nil {
		return esc
	}
	i := sort.Search(len(keys), func(i int) bool {
		return keys[i].Path > p || keys[i].Path == p && keys[i].Version >= v
	})
	j := (i + 1) % len(keys)
	for k := range keys {
		if keys[k].Path == p && keys[k].Version != v {
			j = k
			break
		}
	}
	ep, _ := module.EscapePath(keys[j].Path)
	ev, _ := module.EscapeVersion(keys[j].Version)
	return ep + "@" + ev
}

// flipSignatures flips a bit in the signature of every "— name sig" line.
func flipSignatures(body []byte) []byte {
	lines := strings.Split(string(body), "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "\u2014 ") {
			continue
		}
		f := strings.Fields(l)
		sig, err := base64.StdEncoding.DecodeString(f[len(f)-1])
		if err != nil || len(sig) < 5 {
			continue
		}
		sig[len(sig)-1] ^= 1
		f[len(f)-1] = base64.StdEncoding.EncodeToString(sig)
		lines[i] = strings.Join(f, " ")
	}
	return []byte(strings.Join(lines, "\n"))
}
