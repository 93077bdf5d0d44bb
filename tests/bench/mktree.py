#!/usr/bin/env python3
"""Writes the benchmark's GOPROXY tree (download-cache layout).

Usage: mktree.py OUT_DIR

Three modules, each at v1.0.0, each with .info (~100 bytes), .mod (~200
bytes) and a .zip that is a valid module zip (entries under
<module>@v1.0.0/, with a go.mod equal to the .mod file):

  example.com/bench       small zip  (~4 KiB)
  example.com/bench-1m    1 MiB zip
  example.com/bench-50m   50 MiB zip

The zips hold random (incompressible) bytes, stored uncompressed, padded
so that the zip file itself is the target size. Prints one line per file:
"<relative path> <size>".
"""
import os
import sys
import zipfile

VERSION = "v1.0.0"
MODULES = [
    ("example.com/bench", 4 * 1024),
    ("example.com/bench-1m", 1024 * 1024),
    ("example.com/bench-50m", 50 * 1024 * 1024),
]


def info_json(module):
    # ~100 bytes: Version and Time, plus an Origin like proxy.golang.org's.
    return ('{"Version":"%s","Time":"2024-01-02T03:04:05Z",'
            '"Origin":{"VCS":"git","URL":"https://%s"}}\n' % (VERSION, module)).encode()


def go_mod(module):
    # ~200 bytes.
    return ("module %s\n\ngo 1.21\n\nrequire (\n"
            "\tgolang.org/x/mod v0.14.0\n"
            "\tgolang.org/x/sync v0.5.0\n"
            "\tgolang.org/x/text v0.14.0\n"
            "\tgolang.org/x/tools v0.16.1\n"
            "\tgolang.org/x/net v0.19.0 // indirect\n)\n" % module).encode()


def write_zip(path, module, target):
    prefix = "%s@%s/" % (module, VERSION)
    mod = go_mod(module)

    def build(payload_len):
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
            z.writestr(zipfile.ZipInfo(prefix + "go.mod", (2024, 1, 2, 3, 4, 6)), mod)
            src = b"package bench\n\n// Size is the size of data.bin.\nconst Size = %d\n" % payload_len
            z.writestr(zipfile.ZipInfo(prefix + "bench.go", (2024, 1, 2, 3, 4, 6)), src)
            z.writestr(zipfile.ZipInfo(prefix + "data.bin", (2024, 1, 2, 3, 4, 6)),
                       os.urandom(payload_len))
        return os.path.getsize(path)

    # Stored entries: the zip's size moves 1:1 with the payload, except for
    # the digit count of Size; a few rounds settle it.
    payload = target
    for _ in range(4):
        size = build(payload)
        if size == target:
            break
        payload += target - size
    return size


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: mktree.py OUT_DIR")
    out = sys.argv[1]
    for module, zsize in MODULES:
        d = os.path.join(out, module, "@v")
        os.makedirs(d, exist_ok=True)
        files = {
            VERSION + ".info": info_json(module),
            VERSION + ".mod": go_mod(module),
        }
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        with open(os.path.join(d, "list"), "w") as f:
            f.write(VERSION + "\n")
        write_zip(os.path.join(d, VERSION + ".zip"), module, zsize)
        for name in (VERSION + ".info", VERSION + ".mod", VERSION + ".zip"):
            rel = "%s/@v/%s" % (module, name)
            print(rel, os.path.getsize(os.path.join(out, rel)))


if __name__ == "__main__":
    main()
