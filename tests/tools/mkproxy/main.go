// Command mkproxy turns the go command's own test module corpus
// ($GOROOT/src/cmd/go/testdata/mod/*.txt) into a static GOPROXY tree in the
// module download-cache layout:
//
//	<escaped path>/@v/list
//	<escaped path>/@v/<escaped version>.info
//	<escaped path>/@v/<escaped version>.mod
//	<escaped path>/@v/<escaped version>.zip
//	<escaped path>/@latest            (unless -latest=false)
//
// The interpretation of the corpus follows Go 1.19's cmd/go/proxy_test.go:
//
//   - Only files named <path>_<version>.txt are used. The module path and
//     version come from the FILE NAME (the part before the last "_v" with "_"
//     turned into "/"; both may use "!"-escaping), not from the txtar comment.
//     Names that module.UnescapePath/UnescapeVersion refuse are skipped.
//   - The ".info" and ".mod" archive members are served verbatim. There is no
//     defaulting: a missing member means 404 (no file is written).
//   - The zip holds every other member (except ".zip") as
//     "<path>@<version>/<name>", in archive order, written with archive/zip
//     (not x/mod/zip.Create), so deliberately broken zips survive. A member
//     whose name starts with "/" is stored under that name minus the slash,
//     i.e. outside the module prefix (rsc.io/badzip).
//   - @v/list holds the non-pseudo versions that pass module.Check, sorted by
//     semver; a module with none gets an empty list (200, empty body).
//   - @latest (not part of the download-cache layout, but served by the test
//     proxy) is the .info of the highest release, else highest prerelease,
//     else highest pseudo-version among versions passing module.Check.
//     (The Go 1.19 test proxy's own loop actually picks the LOWEST; we do
//     what the protocol says instead.)
//
// With -strict, versions whose zip x/mod/zip.CheckZip rejects (or that fail
// module.Check) are skipped as well. With -v every anomaly found in the
// corpus is reported on stderr.
//
// Output is deterministic: same corpus and Go toolchain => same bytes.
package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	modzip "golang.org/x/mod/zip"
)

var (
	corpus  = flag.String("corpus", "", "directory of txtar module files (e.g. $GOROOT/src/cmd/go/testdata/mod)")
	out     = flag.String("out", "", "output directory (must not exist or be empty)")
	strict  = flag.Bool("strict", false, "also skip versions whose zip x/mod/zip.CheckZip rejects or that fail module.Check")
	latest  = flag.Bool("latest", true, "write <path>/@latest files")
	verbose = flag.Bool("v", false, "report skipped entries and corpus anomalies on stderr")
)

type modVersion struct {
	path, version string
	escPath       string // module.EscapePath(path)
	escVersion    string // module.EscapeVersion(version)
	info, mod     []byte // nil if absent
	files         []txtarFile
}

func main() {
	log := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "mkproxy: "+format+"\n", args...) }
	flag.Parse()
	if *corpus == "" || *out == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: mkproxy -corpus DIR -out DIR [-strict] [-latest=false] [-v]")
		os.Exit(2)
	}
	if ents, err := os.ReadDir(*out); err == nil && len(ents) > 0 {
		log("output directory %s is not empty", *out)
		os.Exit(1)
	}

	ents, err := os.ReadDir(*corpus) // sorted by name
	if err != nil {
		log("%v", err)
		os.Exit(1)
	}
	var mods []*modVersion
	skipped := 0
	skip := func(name, format string, args ...any) {
		skipped++
		if *verbose {
			log("skip %s: %s", name, fmt.Sprintf(format, args...))
		}
	}
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || name == "README" {
			continue
		}
		if !strings.HasSuffix(name, ".txt") {
			skip(name, "no .txt suffix (ignored by the go test proxy)")
			continue
		}
		base := strings.TrimSuffix(name, ".txt")
		i := strings.LastIndex(base, "_v")
		if i < 0 {
			skip(name, "no _v<version> in name")
			continue
		}
		path, err := module.UnescapePath(strings.ReplaceAll(base[:i], "_", "/"))
		if err != nil {
			skip(name, "%v", err)
			continue
		}
		vers, err := module.UnescapeVersion(base[i+1:])
		if err != nil {
			skip(name, "%v", err)
			continue
		}
		data, err := os.ReadFile(filepath.Join(*corpus, name))
		if err != nil {
			log("%v", err)
			os.Exit(1)
		}
		m := &modVersion{path: path, version: vers}
		m.escPath, _ = module.EscapePath(path)
		m.escVersion, _ = module.EscapeVersion(vers)
		for _, f := range parseTxtar(data) {
			switch f.name {
			case ".info":
				if m.info == nil {
					m.info = f.data
				}
			case ".mod":
				if m.mod == nil {
					m.mod = f.data
				}
			case ".zip":
				// ignored, as in the test proxy
			default:
				m.files = append(m.files, f)
			}
		}
		if *verbose {
			for _, a := range anomalies(m) {
				log("note %s@%s: %s", path, vers, a)
			}
		}
		mods = append(mods, m)
	}

	written := mods[:0]
	for _, m := range mods {
		dir := filepath.Join(*out, filepath.FromSlash(m.escPath), "@v")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			log("%v", err)
			os.Exit(1)
		}
		stem := filepath.Join(dir, m.escVersion)
		zipData, err := buildZip(m)
		if err != nil {
			skip(m.path+"@"+m.version, "building zip: %v", err)
			continue
		}
		if err := os.WriteFile(stem+".zip", zipData, 0o644); err != nil {
			log("%v", err)
			os.Exit(1)
		}
		if *strict {
			if _, err := modzip.CheckZip(module.Version{Path: m.path, Version: m.version}, stem+".zip"); err != nil {
				os.Remove(stem + ".zip")
				skip(m.path+"@"+m.version, "x/mod rejects zip: %s", oneLine(err))
				continue
			}
		}
		if m.info != nil {
			writeFile(stem+".info", m.info)
		}
		if m.mod != nil {
			writeFile(stem+".mod", m.mod)
		}
		written = append(written, m)
	}

	// Per-module list and @latest.
	byPath := map[string][]*modVersion{}
	var paths []string
	for _, m := range written {
		if byPath[m.path] == nil {
			paths = append(paths, m.path)
		}
		byPath[m.path] = append(byPath[m.path], m)
	}
	sort.Strings(paths)
	for _, p := range paths {
		vs := byPath[p]
		sort.Slice(vs, func(i, j int) bool { return semver.Compare(vs[i].version, vs[j].version) < 0 })
		var list bytes.Buffer
		var rel, pre, pseudo *modVersion
		for _, m := range vs {
			if module.Check(m.path, m.version) != nil {
				continue
			}
			switch {
			case module.IsPseudoVersion(m.version):
				pseudo = m
			case semver.Prerelease(m.version) != "":
				pre = m
				fmt.Fprintf(&list, "%s\n", m.version)
			default:
				rel = m
				fmt.Fprintf(&list, "%s\n", m.version)
			}
		}
		dir := filepath.Join(*out, filepath.FromSlash(vs[0].escPath))
		writeFile(filepath.Join(dir, "@v", "list"), list.Bytes())
		best := rel
		if best == nil {
			best = pre
		}
		if best == nil {
			best = pseudo
		}
		if *latest && best != nil && best.info != nil {
			writeFile(filepath.Join(dir, "@latest"), best.info)
		}
	}
	fmt.Printf("mkproxy: wrote %d module versions of %d modules to %s; skipped %d corpus entries\n",
		len(written), len(paths), *out, skipped)
}

func writeFile(name string, data []byte) {
	if err := os.WriteFile(name, data, 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "mkproxy: %v\n", err)
		os.Exit(1)
	}
}

// buildZip builds the module zip exactly like Go 1.19's proxy_test.go.
// archive/zip with no timestamps and Deflate is deterministic.
func buildZip(m *modVersion) ([]byte, error) {
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	for _, f := range m.files {
		zipName := m.path + "@" + m.version + "/" + f.name
		if strings.HasPrefix(f.name, "/") {
			zipName = f.name[1:]
		}
		zf, err := z.Create(zipName)
		if err != nil {
			return nil, err
		}
		if _, err := zf.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := z.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// anomalies lists the ways in which a corpus entry deliberately (or not)
// breaks the rules a well-behaved proxy would follow.
func anomalies(m *modVersion) []string {
	var out []string
	if err := module.Check(m.path, m.version); err != nil {
		out = append(out, "module.Check: "+oneLine(err)+" (not listed)")
	}
	if module.IsPseudoVersion(m.version) {
		out = append(out, "pseudo-version (not listed)")
	}
	if m.info == nil {
		out = append(out, "no .info (404)")
	} else {
		var info struct{ Version string }
		if err := json.Unmarshal(m.info, &info); err != nil {
			out = append(out, "bad .info JSON: "+oneLine(err))
		} else if info.Version != m.version {
			out = append(out, fmt.Sprintf(".info Version is %q", info.Version))
		}
	}
	if m.mod == nil {
		out = append(out, "no .mod (404)")
	} else {
		if mp := modfile.ModulePath(m.mod); mp != m.path {
			out = append(out, fmt.Sprintf(".mod declares module %q", mp))
		}
		if _, err := modfile.ParseLax("go.mod", m.mod, nil); err != nil {
			out = append(out, ".mod does not parse: "+oneLine(err))
		}
		for _, f := range m.files {
			if f.name == "go.mod" && !bytes.Equal(f.data, m.mod) {
				out = append(out, ".mod differs from go.mod in zip")
			}
		}
	}
	var zfiles []modzip.File
	for _, f := range m.files {
		if strings.HasPrefix(f.name, "/") {
			out = append(out, fmt.Sprintf("zip entry %q outside the module prefix", f.name[1:]))
			continue
		}
		zfiles = append(zfiles, memFile{f})
	}
	cf, err := modzip.CheckFiles(zfiles)
	if err != nil {
		out = append(out, "x/mod zip: "+oneLine(err))
	}
	for _, o := range cf.Omitted {
		out = append(out, "x/mod zip would omit "+o.Error())
	}
	return out
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// memFile adapts a txtar member to x/mod/zip.File.
type memFile struct{ f txtarFile }

func (m memFile) Path() string                 { return m.f.name }
func (m memFile) Lstat() (os.FileInfo, error)  { return memInfo{m.f}, nil }
func (m memFile) Open() (io.ReadCloser, error) { return nil, errors.New("not implemented") }

type memInfo struct{ f txtarFile }

func (i memInfo) Name() string       { return filepath.Base(i.f.name) }
func (i memInfo) Size() int64        { return int64(len(i.f.data)) }
func (i memInfo) Mode() os.FileMode  { return 0o644 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }
