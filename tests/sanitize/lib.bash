# shellcheck shell=bash
# The sanitizer build and its run-time options, shared by tests/sanitize/run
# (the whole CTest suite) and tests/reliability/soak (a long load test), so
# that both test the same binary the same way. Named .bash: not a test.
#
# sanitize_build SRC BUILD: configures and builds modproxy, its tests and
#   tools with ASan + UBSan (-DMODPROXY_SANITIZE=ON) in BUILD (incremental);
#   the compiler is $CC (default clang: its UBSan writes its reports to
#   log_path like ASan, which GCC 12's does not, and it has more checks, e.g.
#   arithmetic on NULL). Prints the build log's tail and returns 2 on failure.
# sanitize_env SRC LOGS: exports ASAN_OPTIONS, UBSAN_OPTIONS and LSAN_OPTIONS
#   for the processes started afterwards: LeakSanitizer on, every finding
#   fatal (UBSan is built with -fno-sanitize-recover), one report file per
#   process that found something under LOGS/ (report.<exe>.<pid>), whatever
#   that process's output became. Options already in those variables are
#   appended (later options win), e.g. ASAN_OPTIONS=fast_unwind_on_malloc=0
#   for full stacks through libraries built without frame pointers.
#   Suppressions: tests/sanitize/lsan.supp if it exists (only for leaks
#   proved to be a third-party library's own, each with its proof).

sanitize_build() {
  local src=$1 build=$2
  mkdir -p "$build"
  cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER="${CC:-clang}" -DMODPROXY_SANITIZE=ON \
    -DMODPROXY_TESTS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/configure.log" 2>&1 ||
    { cat "$build/configure.log" >&2; return 2; }
  cmake --build "$build" -j "$(nproc)" >"$build/build.log" 2>&1 ||
    { tail -50 "$build/build.log" >&2; return 2; }
}

sanitize_env() {
  local src=$1 logs=$2 lsan=print_suppressions=0
  mkdir -p "$logs"
  export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1:log_path=$logs/report:log_exe_name=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/report:log_exe_name=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
  [[ -f $src/tests/sanitize/lsan.supp ]] && lsan+=":suppressions=$src/tests/sanitize/lsan.supp"
  export LSAN_OPTIONS="$lsan${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
}

# sanitize_summary SRC LOGS: prints each distinct finding of the reports in
# LOGS once (by its first frames in SRC), with how many processes reported
# it; returns 1 if there is any report.
sanitize_summary() {
  local src=$1 logs=$2
  [[ -n $(find "$logs" -type f) ]] || return 0
  python3 - "$logs" "$src" <<'PY'
import collections, os, re, sys
logs, src = sys.argv[1], sys.argv[2]
groups = collections.OrderedDict()  # the findings of a process -> processes
for name in sorted(os.listdir(logs)):
    text = open(os.path.join(logs, name), errors="replace").read()
    found = collections.OrderedDict()
    for block in re.split(r"\n(?=(?:Direct|Indirect) leak of|\S+:\d+:\d+: runtime error|==\d+==ERROR)", text):
        head = block.strip().split("\n")[0]
        if not re.search(r"leak of|runtime error|ERROR: (Address|Undefined)", head):
            continue
        frames = ["%s %s" % f for f in re.findall(r"in (\S+) " + re.escape(src) + r"/(\S+)", block)[:3]]
        if not frames:  # only library frames: their names and offsets
            frames = [re.sub(r"0x[0-9a-f]{8,}|\(BuildId: \w+\)|#\d+", "", f).strip()
                      for f in re.findall(r"#[1-3] .*", block)]
        kind = re.sub(r" of \d+ byte.*|==\d+==|0x[0-9a-f]+", "", head).strip()
        found.setdefault(kind + " at " + " <- ".join(frames), block)
    if found:
        g = groups.setdefault(tuple(found), [[], found])
        g[0].append(name)
print(f"sanitize: {sum(len(g[0]) for g in groups.values())} process(es) reported findings, "
      f"{len(groups)} distinct kind(s) of report:")
for keys, (names, found) in groups.items():
    print(f"\n==== {len(names)} process(es), e.g. {names[0]}:")
    for k in keys:
        print("  - " + k)
    print("\n".join(next(iter(found.values())).strip().split("\n")[:20]))
PY
  return 1
}
