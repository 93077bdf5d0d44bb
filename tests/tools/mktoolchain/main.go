// Command mktoolchain adds synthetic Go toolchains to a GOPROXY tree, as
// the module golang.org/toolchain that the go command's toolchain switching
// (GOTOOLCHAIN=go1.X.Y) downloads:
//
//	mktoolchain -out DIR [-pad-bytes N] [-list-only] go1.X.Y/GOOS-GOARCH...
//
// Each argument becomes the version v0.0.1-go1.X.Y.GOOS-GOARCH with its
// .info, .mod ("module golang.org/toolchain") and, unless -list-only, a
// zip made with x/mod's zip.Create (so it obeys the module zip rules)
// holding what the go command needs of a toolchain: bin/go, a shell script
// printing "go version go1.X.Y GOOS/GOARCH" whatever its arguments, and
// bin/gofmt, pkg/tool/GOOS_GOARCH/ and lib/, whose modes it sets after
// unpacking. -pad-bytes N adds pkg/tool/GOOS_GOARCH/compile, N bytes of
// pseudo-random (incompressible, but the same every run) data, for a zip
// of a real toolchain's size. @v/list is rewritten from every .info of the
// module in DIR, sorted as semver.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	modzip "golang.org/x/mod/zip"
)

const modulePath = "golang.org/toolchain"

var (
	out      = flag.String("out", "", "GOPROXY tree to add the toolchains to")
	padBytes = flag.Int64("pad-bytes", 0, "size of the incompressible pkg/tool/GOOS_GOARCH/compile")
	listOnly = flag.Bool("list-only", false, "write .info and .mod only: a version the list names, without a zip")
)

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "mktoolchain: "+format+"\n", args...)
	os.Exit(1)
}

type memFile struct {
	name string
	mode os.FileMode
	data []byte
}

func (f memFile) Path() string                 { return f.name }
func (f memFile) Lstat() (os.FileInfo, error)  { return memInfo{f}, nil }
func (f memFile) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(f.data)), nil }

type memInfo struct{ f memFile }

func (i memInfo) Name() string       { return filepath.Base(i.f.name) }
func (i memInfo) Size() int64        { return int64(len(i.f.data)) }
func (i memInfo) Mode() os.FileMode  { return i.f.mode }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }

// files is a toolchain's tree for go (go1.X.Y) on goos/goarch.
func files(goVersion, goos, goarch string) []modzip.File {
	tool := "pkg/tool/" + goos + "_" + goarch + "/"
	script := fmt.Sprintf("#!/bin/sh\necho 'go version %s %s/%s'\n", goVersion, goos, goarch)
	fs := []modzip.File{
		memFile{"bin/go", 0o644, []byte(script)},
		memFile{"bin/gofmt", 0o644, []byte("#!/bin/sh\ncat\n")},
		memFile{tool + "README", 0o644, []byte("synthetic toolchain for tests\n")},
		memFile{"lib/time/README", 0o644, []byte("synthetic toolchain for tests\n")},
		memFile{"VERSION", 0o644, []byte(goVersion + "\ntime 2026-01-01T00:00:00Z\n")},
	}
	if *padBytes > 0 {
		data := make([]byte, *padBytes)
		rand.New(rand.NewSource(1)).Read(data)
		fs = append(fs, memFile{tool + "compile", 0o644, data})
	}
	return fs
}

func write(name string, data []byte) {
	if err := os.WriteFile(name, data, 0o644); err != nil {
		fatal("%v", err)
	}
}

func main() {
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: mktoolchain -out DIR [-pad-bytes N] [-list-only] go1.X.Y/GOOS-GOARCH...")
		os.Exit(2)
	}
	dir := filepath.Join(*out, modulePath, "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fatal("%v", err)
	}
	for _, arg := range flag.Args() {
		goVersion, platform, ok := strings.Cut(arg, "/")
		goos, goarch, ok2 := strings.Cut(platform, "-")
		if !ok || !ok2 || !strings.HasPrefix(goVersion, "go1") {
			fatal("%q is not go1.X.Y/GOOS-GOARCH", arg)
		}
		m := module.Version{Path: modulePath, Version: "v0.0.1-" + goVersion + "." + platform}
		if err := module.Check(m.Path, m.Version); err != nil {
			fatal("%v", err)
		}
		base := filepath.Join(dir, m.Version)
		info, _ := json.Marshal(map[string]string{"Version": m.Version, "Time": "2026-01-01T00:00:00Z"})
		write(base+".info", info)
		write(base+".mod", []byte("module "+modulePath+"\n"))
		if *listOnly {
			continue
		}
		var zip bytes.Buffer
		if err := modzip.Create(&zip, m, files(goVersion, goos, goarch)); err != nil {
			fatal("%s: %v", m.Version, err)
		}
		write(base+".zip", zip.Bytes())
	}
	infos, err := filepath.Glob(filepath.Join(dir, "*.info"))
	if err != nil {
		fatal("%v", err)
	}
	var versions []string
	for _, p := range infos {
		versions = append(versions, strings.TrimSuffix(filepath.Base(p), ".info"))
	}
	sort.Slice(versions, func(i, j int) bool { return semver.Compare(versions[i], versions[j]) < 0 })
	write(filepath.Join(dir, "list"), []byte(strings.Join(versions, "\n")+"\n"))
}
