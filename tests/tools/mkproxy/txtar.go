package main

// A minimal txtar parser with the same semantics as Go's internal/txtar
// (which cannot be imported): a comment, then files introduced by lines
// "-- NAME --"; each file's data ends at the next marker line; a missing
// final newline is added.

import (
	"bytes"
	"strings"
)

type txtarFile struct {
	name string
	data []byte
}

func parseTxtar(data []byte) []txtarFile {
	var files []txtarFile
	_, name, data := findFileMarker(data)
	for name != "" {
		f := txtarFile{name: name}
		f.data, name, data = findFileMarker(data)
		files = append(files, f)
	}
	return files
}

func findFileMarker(data []byte) (before []byte, name string, after []byte) {
	var i int
	for {
		if name, after = isMarker(data[i:]); name != "" {
			return data[:i], name, after
		}
		j := bytes.Index(data[i:], []byte("\n-- "))
		if j < 0 {
			return fixNL(data), "", nil
		}
		i += j + 1
	}
}

func isMarker(data []byte) (name string, after []byte) {
	if !bytes.HasPrefix(data, []byte("-- ")) {
		return "", nil
	}
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		data, after = data[:i], data[i+1:]
	}
	if !(bytes.HasSuffix(data, []byte(" --")) && len(data) >= 6) {
		return "", nil
	}
	return strings.TrimSpace(string(data[3 : len(data)-3])), after
}

func fixNL(data []byte) []byte {
	if len(data) == 0 || data[len(data)-1] == '\n' {
		return data
	}
	return append(append([]byte(nil), data...), '\n')
}
