#!/usr/bin/env bash
# Builds the thumbnail program as one static binary, bin/thumbnail, which the Containerfile copies
# into an image FROM scratch (no libraries, no shell), and the sample generator bin/make-samples.
# Needs gcc and the static C library (Debian: build-essential). Quick, and a no-op when the
# binaries are newer than their sources.
#
#   examples/algorithms/thumbnails/build.sh           build bin/thumbnail and bin/make-samples
#   examples/algorithms/thumbnails/build.sh --force   rebuild
set -Eeuo pipefail

readonly HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly FLAGS=(-std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -O2 -static)

command -v gcc >/dev/null || {
  echo "build.sh: gcc is needed (Debian: apt-get install build-essential)" >&2
  exit 1
}
mkdir -p "$HERE/bin"

build() { # program
  local bin="$HERE/bin/$1" source="$HERE/$1.c"
  if [[ ${FORCE:-} != 1 && -x $bin && $bin -nt $source && $bin -nt ${BASH_SOURCE[0]} ]]; then
    echo "build.sh: $bin is up to date" >&2
    return
  fi
  gcc "${FLAGS[@]}" -o "$bin.tmp" "$source" -lm
  mv "$bin.tmp" "$bin"
  echo "build.sh: built $bin" >&2
}

[[ ${1:-} == --force ]] && FORCE=1
build thumbnail
build make-samples
