#!/usr/bin/env bash
# Benchmark: N small files (default 500, 1 KiB each) through a whole local run — `sluice run --upload`
# with the local backend and 2 runner containers — beside the baseline a user would script without
# sluice: upload the files with `aws s3 cp --recursive`, then GNU parallel -j2 running, per file,
# `aws s3 cp` (download) + `podman run --rm` of the same algorithm image + `aws s3 cp` (upload).
# Both run in this script, one after the other, against the same moto server; both include the upload
# of the inputs. Prints each total, tasks/s and the ratio (sluice tasks/s / baseline tasks/s, the same as
# baseline time / sluice time); issue 17's target is ≥ 6×. `make bench` runs it with 500 files, and
# with BENCH_LARGE files too when set (BENCH_LARGE=2000: about 3–4× the time of the 500-file run).
#
# The algorithm is trivial on purpose (busybox copying its input with a header): the figures measure
# what surrounds it — a container per file against long-lived runners.
#
# Usage (make bench does the test bed part):
#   bash scripts/testbed.sh start && eval "$(bash scripts/testbed.sh env)"
#   bash bench/local-run.sh [N]
# Needs: GNU parallel and the aws CLI (installed here when missing: apt-get install parallel; the aws
# CLI into .venv-aws by scripts/bootstrap.sh), podman configured by the test bed's CONTAINERS_* variables.
set -Eeuo pipefail

readonly ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly FILES="${1:-500}"
readonly WORKERS=2
read -r -a SLUICE <<<"${SLUICE_CLI:-node $ROOT/packages/cli/dist/index.js}"
export NODE_NO_WARNINGS=1

die() {
  printf 'bench: %s\n' "$*" >&2
  exit 1
}
[[ -n ${AWS_ENDPOINT_URL:-} ]] ||
  die 'AWS_ENDPOINT_URL is not set: start the test bed (bash scripts/testbed.sh start; eval "$(bash scripts/testbed.sh env)")'
[[ -n ${CONTAINERS_CONF:-} ]] || die 'CONTAINERS_CONF is not set: eval "$(bash scripts/testbed.sh env)" first'

if ! command -v parallel >/dev/null; then
  [[ $(id -u) -eq 0 ]] || die 'GNU parallel is needed: apt-get install parallel'
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q parallel >/dev/null
fi
AWS=(aws)
if ! command -v aws >/dev/null; then
  [[ -x $ROOT/.venv-aws/bin/aws ]] || bash "$ROOT/scripts/bootstrap.sh" >/dev/null
  AWS=("$ROOT/.venv-aws/bin/aws")
fi
AWS+=(--endpoint-url "$AWS_ENDPOINT_URL" --region "${AWS_REGION:-us-east-1}")

WORK="$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-XXXXXX")"
readonly WORK
readonly ID="$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
readonly NAME="bench-$ID"
readonly BUCKET_IN="sluice-bench-in-$ID"
readonly BUCKET_OUT="sluice-bench-out-$ID"
readonly ALGORITHM_IMAGE="localhost/sluice/$NAME-algorithm:1.0"
cleanup() {
  podman rmi -f "localhost/sluice/$NAME:1.0" "$ALGORITHM_IMAGE" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

millis() { date +%s%3N; }
seconds() { awk -v ms="$1" 'BEGIN { printf "%.1f", ms / 1000 }'; }
rate() { awk -v n="$1" -v ms="$2" 'BEGIN { printf "%.1f", n * 1000 / ms }'; }

echo "bench: $FILES files of 1 KiB, $WORKERS workers, moto at $AWS_ENDPOINT_URL ($(nproc) cores)"

# The algorithm: a FROM-scratch busybox image whose script copies its input with a header.
mkdir -p "$WORK/algorithm/image" "$WORK/inputs"
cp /bin/busybox "$WORK/algorithm/image/busybox"
cat >"$WORK/algorithm/image/run.sh" <<'SH'
#!/bin/sh
{ echo processed; cat "$1"; } > "$2/result.txt"
SH
chmod +x "$WORK/algorithm/image/run.sh"
cat >"$WORK/algorithm/image/Containerfile" <<'EOF'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY run.sh /app/run.sh
EOF
cat >"$WORK/algorithm/algorithm.json" <<EOF
{ "name": "$NAME", "version": "1.0", "build": { "context": "image", "dockerfile": "Containerfile" },
  "command": ["/app/run.sh", "{input}", "{output}"], "input": "/data/in/", "output": "/data/out/",
  "memory": 64, "timeoutSeconds": 60 }
EOF
"${SLUICE[@]}" wrap "$WORK/algorithm/algorithm.json" >/dev/null
for ((i = 0; i < FILES; i++)); do
  head -c 1024 /dev/urandom >"$WORK/inputs/file-$(printf '%04d' "$i").bin"
done
cat >"$WORK/job.json" <<EOF
{ "name": "$NAME", "algorithm": "$NAME@1.0",
  "input": { "bucket": "$BUCKET_IN", "prefix": "sluice/", "create": true },
  "output": { "bucket": "$BUCKET_OUT", "prefix": "sluice/" },
  "aws": { "credentials": "environment" },
  "compute": { "backend": "local", "maxWorkers": $WORKERS, "idleSeconds": 30 }, "retries": 0 }
EOF

# ── sluice: provision, upload, dispatch, 2 runners, collect, teardown.
echo "bench: sluice run --upload ($FILES files, $WORKERS runner containers)"
start=$(millis)
"${SLUICE[@]}" run "$WORK/job.json" --upload "$WORK/inputs" >"$WORK/sluice.out" 2>"$WORK/sluice.err" ||
  die "sluice run failed: $(tail -n 20 "$WORK/sluice.err")"
sluice_ms=$(($(millis) - start))
grep -q "$FILES succeeded, 0 failed of $FILES inputs" "$WORK/sluice.out" ||
  die "sluice run did not process every file: $(cat "$WORK/sluice.out")"

# ── the baseline: upload, then per file download + podman run + upload, 2 at a time.
process_one() { # key
  local dir
  dir="$(mktemp -d "$WORK/task-XXXXXX")"
  mkdir -p "$dir/in" "$dir/out"
  "${AWS[@]}" s3 cp --quiet "s3://$BUCKET_IN/baseline/$1" "$dir/in/$1" &&
    podman run --rm --network none -v "$dir/in:/data/in:ro" -v "$dir/out:/data/out" \
      "$ALGORITHM_IMAGE" /app/run.sh "/data/in/$1" /data/out &&
    "${AWS[@]}" s3 cp --quiet --recursive "$dir/out" "s3://$BUCKET_OUT/baseline/$1/"
  local status=$?
  rm -rf "$dir"
  return $status
}
export -f process_one
export WORK BUCKET_IN BUCKET_OUT ALGORITHM_IMAGE
# parallel runs process_one in a new bash: the aws command goes through the environment.
export AWS_COMMAND="${AWS[*]}"
echo "bench: baseline — aws s3 cp --recursive, then parallel -j$WORKERS (aws s3 cp + podman run + aws s3 cp)"
start=$(millis)
"${AWS[@]}" s3 cp --quiet --recursive "$WORK/inputs" "s3://$BUCKET_IN/baseline/"
(cd "$WORK/inputs" && ls) | parallel --will-cite -j"$WORKERS" --halt now,fail=1 \
  'AWS=($AWS_COMMAND); process_one {}' >"$WORK/baseline.out" 2>&1 ||
  die "the baseline failed: $(tail -n 20 "$WORK/baseline.out")"
baseline_ms=$(($(millis) - start))
done_count=$("${AWS[@]}" s3 ls --recursive "s3://$BUCKET_OUT/baseline/" | grep -c 'result.txt$' || true)
[[ $done_count -eq $FILES ]] || die "the baseline made $done_count results, not $FILES"

echo
printf '%-58s %9s %10s\n' "$FILES files, $WORKERS at a time" 'total s' 'tasks/s'
printf '%-58s %9s %10s\n' 'sluice run --upload (local backend, 2 runners)' "$(seconds "$sluice_ms")" \
  "$(rate "$FILES" "$sluice_ms")"
printf '%-58s %9s %10s\n' 'baseline: parallel -j2 (aws s3 cp, podman run, aws s3 cp)' "$(seconds "$baseline_ms")" \
  "$(rate "$FILES" "$baseline_ms")"
ratio=$(awk -v b="$baseline_ms" -v s="$sluice_ms" 'BEGIN { printf "%.2f", b / s }')
printf "ratio sluice / baseline tasks/s: %s× (the baseline takes %s× sluice's time; issue 17's target ≥ 6×: %s)\n" \
  "$ratio" "$ratio" "$(awk -v r="$ratio" 'BEGIN { print (r >= 6 ? "met" : "not met") }')"

"${AWS[@]}" s3 rb --force "s3://$BUCKET_IN" >/dev/null 2>&1 || true
"${AWS[@]}" s3 rb --force "s3://$BUCKET_OUT" >/dev/null 2>&1 || true
