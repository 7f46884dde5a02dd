#!/usr/bin/env bash
# The test bed for humans and `make demo`: the same servers jest's global setup starts
# (test/testbed/), but in the background until `stop`.
#
#   scripts/testbed.sh start    start moto, SeaweedFS and the local registry on free loopback ports (or say
#                               they already run), write .testbed/endpoints.json, print exports
#   scripts/testbed.sh env      print the `export ...` lines for the running test bed:
#                               eval "$(scripts/testbed.sh env)"
#   scripts/testbed.sh status   say whether it runs, and where
#   scripts/testbed.sh stop     stop what `start` started
#
# With the exports in the environment, jest reuses these servers instead of starting its own
# (SLUICE_TEST_AWS_ENDPOINT / SLUICE_TEST_SEAWEED_ENDPOINT / SLUICE_TEST_REGISTRY), the AWS SDK and CLI talk to moto
# (AWS_ENDPOINT_URL, dummy credentials), and podman/buildah use the test bed's settings
# (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF, CONTAINERS_REGISTRIES_CONF).
set -Eeuo pipefail

readonly ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly STATE="$ROOT/.testbed"
readonly ENDPOINTS="$STATE/endpoints.json"
readonly PIDS="$STATE/testbed-sh.pids"
readonly REGISTRY_DIR="$STATE/registry"
readonly MOTO="$ROOT/.venv/bin/moto_server"
readonly WEED="$ROOT/.venv/bin/weed"
readonly SEAWEED_DIR="$STATE/seaweed"
readonly REGISTRY=/usr/bin/docker-registry
readonly REGION=us-east-1

say() { printf 'testbed: %s\n' "$*" >&2; }
die() {
  printf 'testbed: FAILED: %s\n' "$*" >&2
  exit 1
}

alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

# Prints "<moto pid> <registry pid> <moto port> <registry port> <weed pid> <weed port>" from the
# pid file, if any.
read_pids() { [[ -f $PIDS ]] && cat "$PIDS"; }

running() {
  local moto_pid registry_pid _a _b weed_pid _
  read -r moto_pid registry_pid _a _b weed_pid _ < <(read_pids || true) || true
  alive "${moto_pid:-}" && alive "${registry_pid:-}" && alive "${weed_pid:-}"
}

# A free loopback port not given before in this script: the kernel may hand out a just-freed port
# again, and two SeaweedFS parts on one port leave S3 unbound behind a probe that answers.
# Sets the variable named $1 (not a subshell: the ports given are remembered here).
GIVEN_PORTS=" "
free_port() {
  local candidate
  while :; do
    candidate=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
    [[ $GIVEN_PORTS == *" $candidate "* ]] || break
  done
  GIVEN_PORTS+="$candidate "
  printf -v "$1" '%s' "$candidate"
}

# True when an HTTP server answers the URL (any status).
answers() {
  python3 - "$1" <<'PY' 2>/dev/null
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=1).close()
except urllib.error.HTTPError:
    pass
except Exception:
    sys.exit(1)
PY
}

wait_for() { # name url pid log
  local name=$1 url=$2 pid=$3 log=$4 deadline=$((SECONDS + 60))
  until answers "$url"; do
    if ! alive "$pid"; then
      tail -n 25 "$log" >&2 || true
      die "$name stopped while starting (log above: $log)"
    fi
    if ((SECONDS > deadline)); then
      tail -n 25 "$log" >&2 || true
      die "$name did not answer $url within 60 s (log above: $log)"
    fi
    sleep 0.2
  done
}

print_env() {
  local moto_port=$1 registry_port=$2 weed_port=$3
  cat <<EOF
export SLUICE_TEST_AWS_ENDPOINT=http://127.0.0.1:$moto_port
export SLUICE_TEST_SEAWEED_ENDPOINT=http://127.0.0.1:$weed_port
export SLUICE_TEST_REGISTRY=127.0.0.1:$registry_port
export AWS_ENDPOINT_URL=http://127.0.0.1:$moto_port
export AWS_REGION=$REGION
export AWS_DEFAULT_REGION=$REGION
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export CONTAINERS_CONF=$ROOT/test/testbed/containers.conf
export CONTAINERS_STORAGE_CONF=$ROOT/test/testbed/storage.conf
export CONTAINERS_REGISTRIES_CONF=$ROOT/test/testbed/registries.conf
EOF
}

start() {
  if running; then
    local _a _b moto_port registry_port _c weed_port
    read -r _a _b moto_port registry_port _c weed_port < <(read_pids)
    say "already running (moto on $moto_port, SeaweedFS on $weed_port, registry on $registry_port)"
    print_env "$moto_port" "$registry_port" "$weed_port"
    return
  fi
  [[ -x $MOTO ]] || die "$MOTO is missing; run scripts/bootstrap.sh"
  [[ -x $REGISTRY ]] || die "$REGISTRY is missing; run scripts/bootstrap.sh"
  [[ -x $WEED ]] || die "$WEED is missing; run scripts/bootstrap.sh"
  command -v python3 >/dev/null 2>&1 || die "python3 is missing; run scripts/bootstrap.sh"
  stop_quietly
  mkdir -p "$STATE/logs" "$REGISTRY_DIR/data"

  local moto_port registry_port moto_pid registry_pid weed_pid weed_port part port grpc_port
  free_port moto_port
  free_port registry_port
  free_port weed_port
  free_port grpc_port
  # The same SeaweedFS as test/testbed/servers.ts (startSeaweed): every port free and on loopback,
  # the identity of packages/testing/src/testbed-seaweed.ts, no bucket made by a put.
  rm -rf "$SEAWEED_DIR"
  mkdir -p "$SEAWEED_DIR/data"
  printf '%s\n' '{"identities":[{"name":"sluice-testbed","credentials":[{"accessKey":"sluice-seaweed","secretKey":"sluice-seaweed-secret"}],"actions":["Admin","Read","Write","List","Tagging"]}]}' >"$SEAWEED_DIR/s3.json"
  local weed_args=(server -ip=127.0.0.1 -ip.bind=127.0.0.1 "-dir=$SEAWEED_DIR/data" -s3 "-s3.config=$SEAWEED_DIR/s3.json"
    "-s3.port=$weed_port" "-s3.port.grpc=$grpc_port" -s3.autoCreateBucket=false -s3.port.iceberg=0 -s3.port.lance=0
    "-filer.localSocket=$SEAWEED_DIR/filer.sock" -master.volumeSizeLimitMB=64 -volume.max=0 -volume.preStopSeconds=0)
  for part in master volume filer; do
    free_port port
    free_port grpc_port
    weed_args+=("-$part.port=$port" "-$part.port.grpc=$grpc_port")
  done
  cat >"$REGISTRY_DIR/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: "$REGISTRY_DIR/data"
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$registry_port
EOF
  # setsid: the servers outlive this script and are not hit by a Ctrl-C in its terminal.
  setsid "$MOTO" -H 127.0.0.1 -p "$moto_port" >"$STATE/logs/testbed-moto.log" 2>&1 </dev/null &
  moto_pid=$!
  setsid "$REGISTRY" serve "$REGISTRY_DIR/config.yml" >"$STATE/logs/testbed-registry.log" 2>&1 </dev/null &
  registry_pid=$!
  setsid "$WEED" "${weed_args[@]}" >"$STATE/logs/testbed-seaweed.log" 2>&1 </dev/null &
  weed_pid=$!
  echo "$moto_pid $registry_pid $moto_port $registry_port $weed_pid $weed_port" >"$PIDS"

  wait_for 'the moto server' "http://127.0.0.1:$moto_port/moto-api/" "$moto_pid" "$STATE/logs/testbed-moto.log"
  wait_for 'the local registry' "http://127.0.0.1:$registry_port/v2/" "$registry_pid" "$STATE/logs/testbed-registry.log"
  wait_for 'SeaweedFS' "http://127.0.0.1:$weed_port/healthz" "$weed_pid" "$STATE/logs/testbed-seaweed.log"

  cat >"$ENDPOINTS.tmp" <<EOF
{
  "awsEndpoint": "http://127.0.0.1:$moto_port",
  "seaweedEndpoint": "http://127.0.0.1:$weed_port",
  "registry": "127.0.0.1:$registry_port",
  "region": "$REGION",
  "owner": "testbed.sh",
  "pid": $moto_pid,
  "containerEnv": {
    "CONTAINERS_CONF": "$ROOT/test/testbed/containers.conf",
    "CONTAINERS_STORAGE_CONF": "$ROOT/test/testbed/storage.conf",
    "CONTAINERS_REGISTRIES_CONF": "$ROOT/test/testbed/registries.conf"
  }
}
EOF
  mv "$ENDPOINTS.tmp" "$ENDPOINTS"
  say "started: moto on 127.0.0.1:$moto_port (pid $moto_pid), SeaweedFS on 127.0.0.1:$weed_port (pid $weed_pid), registry on 127.0.0.1:$registry_port (pid $registry_pid)"
  say "use it in a shell with: eval \"\$(scripts/testbed.sh env)\"; stop it with: scripts/testbed.sh stop"
  print_env "$moto_port" "$registry_port" "$weed_port"
}

# Stops a pid from our pid file, if it still is the program we started (pids get reused).
stop_pid() { # pid program [signal]
  local pid=$1 program=$2 signal=${3:-TERM} i
  alive "$pid" || return 0
  grep -qF "$program" "/proc/$pid/cmdline" 2>/dev/null || return 0
  kill "-$signal" "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do
    alive "$pid" || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

stop_quietly() {
  local moto_pid registry_pid _a _b weed_pid _
  if read -r moto_pid registry_pid _a _b weed_pid _ < <(read_pids); then
    stop_pid "$moto_pid" moto_server
    stop_pid "$registry_pid" docker-registry
    # SeaweedFS ignores SIGTERM for 10 s and more, and its data is thrown away: KILL it.
    if [[ -n ${weed_pid:-} ]]; then stop_pid "$weed_pid" "$WEED" KILL; fi
  fi
  rm -f "$PIDS"
  rm -rf "$REGISTRY_DIR" "$SEAWEED_DIR"
  # Only our own endpoints file: a jest run may have written its own since.
  if [[ -f $ENDPOINTS ]] && grep -q '"owner": "testbed.sh"' "$ENDPOINTS"; then rm -f "$ENDPOINTS"; fi
}

stop() {
  if [[ ! -f $PIDS ]]; then
    say "not running"
    return
  fi
  stop_quietly
  say "stopped"
}

env_cmd() {
  running || die "the test bed is not running; start it with scripts/testbed.sh start"
  local _a _b moto_port registry_port _c weed_port
  read -r _a _b moto_port registry_port _c weed_port < <(read_pids)
  print_env "$moto_port" "$registry_port" "$weed_port"
}

status() {
  if running; then
    local moto_pid registry_pid moto_port registry_port weed_pid weed_port
    read -r moto_pid registry_pid moto_port registry_port weed_pid weed_port < <(read_pids)
    say "running: moto on 127.0.0.1:$moto_port (pid $moto_pid), SeaweedFS on 127.0.0.1:$weed_port (pid $weed_pid), registry on 127.0.0.1:$registry_port (pid $registry_pid)"
  else
    say "not running"
    return 1
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) env_cmd ;;
  status) status ;;
  *)
    echo "usage: scripts/testbed.sh start|stop|env|status" >&2
    exit 2
    ;;
esac
