// Command modfilevec writes tests/data/modfile_parse.tsv: what the current
// golang.org/x/mod/modfile (the version pinned in this directory's go.mod)
// answers for each input, with Parse and with ParseLax (fix == nil, as the
// go command reads a dependency's go.mod).
//
// Inputs, in this order, duplicates dropped:
//   - the inputs of an earlier vector file (-inputs, its first two columns);
//   - x/mod's own modfile/testdata/*.in;
//   - every go.mod in $GOROOT/src/cmd/go/testdata/script/*.txt that uses a
//     directive or go version newer than Go 1.20 (toolchain, godebug, tool,
//     ignore, "go 1.22.0", "go 1.21rc1");
//   - the cases in cases.go, written for the rules of those directives.
//
// Usage, from this directory (it needs the module proxy once, for x/mod):
//
//	go run . -inputs ../../data/modfile_parse.tsv >../../data/modfile_parse.tsv.new
//
// Output: tab-separated, one row per input and mode, every field
// percent-encoded (bytes outside '!'..'~', and '%'); list fields join their
// entries with ';'.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"
)

type input struct{ name, gomod string }

func main() {
	inputs := flag.String("inputs", "", "an earlier vector file whose inputs to keep")
	flag.Parse()

	var in []input
	seen := map[string]bool{}
	add := func(name, gomod string) {
		if !seen[gomod] {
			seen[gomod] = true
			in = append(in, input{name, gomod})
		}
	}
	if *inputs != "" {
		for _, x := range readInputs(*inputs) {
			add(x.name, x.gomod)
		}
	}
	for _, x := range xmodTestdata() {
		add(x.name, x.gomod)
	}
	for _, x := range scriptGoMods() {
		add(x.name, x.gomod)
	}
	for _, x := range cases {
		add("modfilevec:"+x.name, x.gomod)
	}

	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	fmt.Fprintln(w, "#file_or_table\tgomod_bytes\tmode\tverdict\terror\tmodule\tdeprecated\tgo\ttoolchain\tgodebug\trequire\texclude\treplace\tretract\ttool\tignore")
	for _, x := range in {
		for _, mode := range []string{"Parse", "ParseLax"} {
			parse := modfile.Parse
			if mode == "ParseLax" {
				parse = modfile.ParseLax
			}
			f, err := parse("go.mod", []byte(x.gomod), nil)
			row := []string{x.name, x.gomod, mode}
			if err != nil {
				row = append(row, "fail", err.Error())
				row = append(row, make([]string, 11)...)
			} else {
				row = append(row, "ok", "")
				row = append(row, describe(f)...)
			}
			for i, s := range row {
				if i > 0 {
					w.WriteString("\t")
				}
				w.WriteString(encode(s))
			}
			w.WriteString("\n")
		}
	}
	log.Printf("%d inputs, x/mod from %s", len(in), modDir())
}

// describe gives the columns module .. ignore of a parsed file.
func describe(f *modfile.File) []string {
	var module, deprecated, goV, toolchain string
	if f.Module != nil {
		module, deprecated = f.Module.Mod.Path, f.Module.Deprecated
	}
	if f.Go != nil {
		goV = f.Go.Version
	}
	if f.Toolchain != nil {
		toolchain = f.Toolchain.Name
	}
	var godebug, require, exclude, replace, retract, tool, ignore []string
	for _, g := range f.Godebug {
		godebug = append(godebug, g.Key+"="+g.Value)
	}
	for _, r := range f.Require {
		s := r.Mod.Path + "@" + r.Mod.Version
		if r.Indirect {
			s += ",indirect"
		}
		require = append(require, s)
	}
	for _, x := range f.Exclude {
		exclude = append(exclude, x.Mod.Path+"@"+x.Mod.Version)
	}
	for _, r := range f.Replace {
		replace = append(replace, r.Old.Path+"@"+r.Old.Version+"=>"+r.New.Path+"@"+r.New.Version)
	}
	for _, r := range f.Retract {
		retract = append(retract, "["+r.Low+","+r.High+"] "+r.Rationale)
	}
	for _, t := range f.Tool {
		tool = append(tool, t.Path)
	}
	for _, i := range f.Ignore {
		ignore = append(ignore, i.Path)
	}
	j := func(l []string) string { return strings.Join(l, ";") }
	return []string{module, deprecated, goV, toolchain, j(godebug), j(require),
		j(exclude), j(replace), j(retract), j(tool), j(ignore)}
}

func encode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func decode(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			var c byte
			fmt.Sscanf(s[i+1:i+3], "%02X", &c)
			b = append(b, c)
			i += 2
		} else {
			b = append(b, s[i])
		}
	}
	return string(b)
}

func readInputs(file string) []input {
	data, err := os.ReadFile(file)
	if err != nil {
		log.Fatal(err)
	}
	var out []input
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.SplitN(line, "\t", 3)
		if len(f) < 2 {
			log.Fatalf("%s: short line %q", file, line)
		}
		out = append(out, input{decode(f[0]), decode(f[1])})
	}
	return out
}

// modDir is where the module cache holds the x/mod this program uses.
func modDir() string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/mod").Output()
	if err != nil {
		log.Fatalf("go list -m golang.org/x/mod: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// eachFile calls fn with every file that pattern matches, in name order.
func eachFile(pattern string, fn func(name string, data []byte)) {
	files, _ := filepath.Glob(pattern)
	sort.Strings(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			log.Fatal(err)
		}
		fn(f, data)
	}
}

func xmodTestdata() []input {
	var out []input
	eachFile(filepath.Join(modDir(), "modfile", "testdata", "*.in"), func(f string, data []byte) {
		out = append(out, input{"testdata/" + filepath.Base(f), string(data)})
	})
	return out
}

var modern = regexp.MustCompile(`(?m)^\s*(toolchain|godebug|tool|ignore)\b|^go [0-9]+\.[0-9]+(\.[0-9]+|[a-z])`)
var section = regexp.MustCompile(`(?m)^-- (.+?) --\n`)

// scriptGoMods: the go.mod sections of cmd/go's script tests that use what
// Go 1.21 and later added.
func scriptGoMods() []input {
	var out []input
	eachFile(filepath.Join(runtime.GOROOT(), "src", "cmd", "go", "testdata", "script", "*.txt"), func(f string, data []byte) {
		idx := section.FindAllSubmatchIndex(data, -1)
		for k, m := range idx {
			name := string(data[m[2]:m[3]])
			if name != "go.mod" && !strings.HasSuffix(name, "/go.mod") {
				continue
			}
			end := len(data)
			if k+1 < len(idx) {
				end = idx[k+1][0]
			}
			body := data[m[1]:end]
			if modern.Match(body) {
				out = append(out, input{"cmd/go-script:" + filepath.Base(f) + ":" + name, string(bytes.Clone(body))})
			}
		}
	})
	return out
}
