#!/usr/bin/env bash
# Runs the compiler on one snippet with -fsyntax-only.
#   expect_compile_error.sh SOURCE COMPILER [COMPILER ARGS...]
# A snippet with a line `// expect-error: <extended regex>` passes only if it fails to compile AND
# the diagnostics match the regex (so an unrelated error does not count). A snippet without such a
# line is a control: it passes only if it compiles.
set -u
if [ $# -lt 2 ]; then
  echo "usage: $0 SOURCE COMPILER [COMPILER ARGS...]" >&2
  exit 2
fi
src=$1
shift
expect=$(sed -n 's|^// expect-error: ||p' "$src" | head -n 1)
out=$("$@" -fsyntax-only "$src" 2>&1)
rc=$?
if [ -z "$expect" ]; then
  if [ $rc -eq 0 ]; then
    echo "PASS: control $src compiles"
    exit 0
  fi
  echo "FAIL: control $src must compile, but:"
  printf '%s\n' "$out" | head -n 60
  exit 1
fi
if [ $rc -eq 0 ]; then
  echo "FAIL: $src compiled, but it must be rejected with /$expect/"
  exit 1
fi
if printf '%s\n' "$out" | grep -Eq -- "$expect"; then
  echo "PASS: $src is rejected with /$expect/"
  exit 0
fi
echo "FAIL: $src is rejected, but the diagnostics do not match /$expect/:"
printf '%s\n' "$out" | head -n 60
exit 1
