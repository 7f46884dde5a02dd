#!/usr/bin/env bash
# Rebuilds every committed bundle (the runner, the five actions and the CLI) and fails, listing the
# files, when a committed dist/ differs from a fresh build or a fresh build adds files that are not committed.
# (actions/reusable-workflows checks dist the same way.) Run from anywhere; it works on the repository it lives in.
#
# Usage: scripts/check-dist.sh           rebuild, fail when a bundle differs from the committed one
#        scripts/check-dist.sh --write   rebuild and stage the bundles that changed (for a release)
set -euo pipefail

write=false
case "${1:-}" in
  '') ;;
  --write) write=true ;;
  *)
    echo "check-dist: unknown argument '$1' (usage: scripts/check-dist.sh [--write])" >&2
    exit 2
    ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# The runner and the watcher Lambda first: the CLI, wrap-algorithm and provision-run bundles carry
# copies of their dist/.
workspaces=(
  @sluice/runner
  @sluice/lambda
  @sluice/action-wrap-algorithm
  @sluice/action-provision-run
  @sluice/action-dispatch-tasks
  @sluice/action-collect-results
  @sluice/action-teardown
  @sluice/cli
)
dist_dirs=(
  packages/runner/dist
  packages/lambda/dist
  actions/wrap-algorithm/dist
  actions/provision-run/dist
  actions/dispatch-tasks/dist
  actions/collect-results/dist
  actions/teardown/dist
  packages/cli/dist
)

for i in "${!workspaces[@]}"; do
  echo "check-dist: building ${workspaces[$i]}"
  # Build each from scratch, so files a build no longer writes do not linger.
  rm -rf "${dist_dirs[$i]}"
  npm run build --silent -w "${workspaces[$i]}"
done

status=0
# A bundle that could not resolve a package at build time leaves a run-time require, which fails in
# an ES module ("require is not defined"): a stale node_modules must not slip through.
unresolved="$(grep -l 'eval("require")' "${dist_dirs[@]/%//index.js}" "${dist_dirs[@]/%//runner/index.js}" "${dist_dirs[@]/%//lambda/index.js}" 2>/dev/null || true)"
if [[ -n "$unresolved" ]]; then
  echo "check-dist: these bundles load packages at run time that were missing at build time (run npm install):" >&2
  sed 's/^/  /' <<<"$unresolved" >&2
  status=1
fi
if [[ $write == true && $status -eq 0 ]]; then
  git add -A -- "${dist_dirs[@]}"
  staged="$(git diff --cached --name-only -- "${dist_dirs[@]}")"
  echo "check-dist: rebuilt; $(grep -c . <<<"$staged" || true) bundle file(s) changed and staged for commit."
  exit 0
fi
changed="$(git diff --name-only -- "${dist_dirs[@]}")"
untracked="$(git ls-files --others --exclude-standard -- "${dist_dirs[@]}")"
if [[ -n "$changed" ]]; then
  echo "check-dist: these committed bundle files differ from a fresh build:" >&2
  sed 's/^/  /' <<<"$changed" >&2
  status=1
fi
if [[ -n "$untracked" ]]; then
  echo "check-dist: a fresh build writes these files, which are not committed:" >&2
  sed 's/^/  /' <<<"$untracked" >&2
  status=1
fi
if [[ $status -ne 0 ]]; then
  echo "check-dist: run 'bash scripts/check-dist.sh' (or 'npm run build -w <package>') and commit dist/." >&2
  exit 1
fi
echo "check-dist: every dist/ matches a fresh build."
