#!/usr/bin/env bash
# Installs kiln into a scratch prefix and builds examples/consumer against it twice, once as a Meson
# project and once as a CMake project, both finding kiln through its pkg-config file; runs both.
set -euo pipefail
src="$1"; meson="$2"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
"$meson" setup "$work/build" "$src" --prefix="$work/prefix" -Dtests=false -Dexamples=false -Dllvm=disabled >"$work/log" 2>&1 \
  || { cat "$work/log"; exit 1; }
"$meson" install -C "$work/build" >>"$work/log" 2>&1 || { cat "$work/log"; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$(find "$work/prefix" -name kiln.pc | head -1)")"
echo "kiln.pc: $PKG_CONFIG_PATH/kiln.pc -> cflags: $(pkg-config --cflags kiln)"
"$meson" setup "$work/meson-app" "$src/examples/consumer" >"$work/log" 2>&1 || { cat "$work/log"; exit 1; }
"$meson" compile -C "$work/meson-app" >"$work/log" 2>&1 || { cat "$work/log"; exit 1; }
"$work/meson-app/app"
if command -v cmake >/dev/null; then
  cmake -S "$src/examples/consumer" -B "$work/cmake-app" >"$work/log" 2>&1 || { cat "$work/log"; exit 1; }
  cmake --build "$work/cmake-app" >"$work/log" 2>&1 || { cat "$work/log"; exit 1; }
  "$work/cmake-app/app"
else
  echo "cmake not installed: CMake consumer not checked" >&2; exit 1
fi
