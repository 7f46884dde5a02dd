#!/usr/bin/env bash
# `make demo`: the whole chain on this machine with the example algorithm (examples/algorithms/
# thumbnails, a C program in an image FROM scratch) and the local backend, against the moto server.
#
#   1. the test bed (moto + a local registry), started unless it already runs
#   2. the static thumbnail binary and the sample generator (build.sh)
#   3. `sluice wrap` of the algorithm into the local image store (no registry, no push)
#   4. 24 sample images (22 PPM/PGM, 2 deliberately broken: the summary shows them as failed)
#   5. `sluice run examples/jobs/thumbnails.json --upload <samples> --backend local`
#   6. a copy of the output bucket (thumbnails, stats.json, logs, results.json) on disk
#
# Prints how long each phase took and where the results are; exits 0 when the run ended with the
# expected results (22 succeeded, the 2 broken files failed). Stops the test bed at the end if it
# started it (a test bed that already ran is left running).
#
# Usage: scripts/demo.sh   (after scripts/bootstrap.sh, which `make demo` runs first)
#   SLUICE_DEMO_DIR   where samples and results go (default tmp/demo, git-ignored)
#   SLUICE_CLI        the command for sluice (default: node packages/cli/dist/index.js)
set -Eeuo pipefail

readonly ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly EXAMPLE="$ROOT/examples/algorithms/thumbnails"
readonly MANIFEST=examples/algorithms/thumbnails/algorithm.json
readonly JOB=examples/jobs/thumbnails.json
readonly DEMO_DIR="${SLUICE_DEMO_DIR:-$ROOT/tmp/demo}"
readonly SAMPLES="$DEMO_DIR/samples"
readonly RESULTS="$DEMO_DIR/results"
readonly EXPECTED_SUCCEEDED=22
readonly EXPECTED_FAILED=2
read -r -a SLUICE <<<"${SLUICE_CLI:-node packages/cli/dist/index.js}"

cd "$ROOT"

PHASES=()
PHASE_NAME=''
PHASE_START=0
STARTED_TESTBED=0
DEMO_START=$(date +%s%N)

say() { printf '\ndemo: %s\n' "$*"; }
die() {
  printf '\ndemo: FAILED: %s\n' "$*" >&2
  exit 1
}
millis() { echo $((($(date +%s%N) - $1) / 1000000)); }
phase() { # name: ends the running phase, starts the next
  end_phase
  PHASE_NAME=$1
  PHASE_START=$(date +%s%N)
  say "── $PHASE_NAME"
}
end_phase() {
  if [[ -n $PHASE_NAME ]]; then
    PHASES+=("$(printf '%-28s %8.1f s' "$PHASE_NAME" "$(millis "$PHASE_START")e-3")")
    PHASE_NAME=''
  fi
}
print_timings() {
  end_phase
  printf '\ndemo: timings\n'
  printf '  %s\n' "${PHASES[@]}"
  printf '  %-28s %8.1f s\n' 'total' "$(millis "$DEMO_START")e-3"
}
on_exit() {
  local status=$?
  trap - EXIT
  print_timings || true
  if ((STARTED_TESTBED)); then
    bash scripts/testbed.sh stop || true
  fi
  exit "$status"
}
trap on_exit EXIT
trap 'die "command failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR

phase 'prerequisites'
if ! command -v gcc >/dev/null || ! printf 'int main(void){return 0;}' | gcc -static -x c -o /dev/null - 2>/dev/null; then
  say "installing gcc and the static C library (apt-get install gcc libc6-dev)"
  [[ $(id -u) -eq 0 ]] || die "gcc with static libc is needed: apt-get install gcc libc6-dev (as root)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q gcc libc6-dev >/dev/null
fi
[[ -f packages/cli/dist/index.js ]] || die "packages/cli/dist/index.js is missing: run make build"

phase 'test bed'
if bash scripts/testbed.sh status >/dev/null 2>&1; then
  echo "the test bed already runs: using it, and leaving it running"
else
  bash scripts/testbed.sh start >/dev/null
  STARTED_TESTBED=1
fi
eval "$(bash scripts/testbed.sh env)"
echo "moto: $AWS_ENDPOINT_URL"

phase 'build the C program'
bash "$EXAMPLE/build.sh"

phase 'wrap the image'
"${SLUICE[@]}" wrap "$MANIFEST"

phase 'sample images'
rm -rf "$SAMPLES" "$RESULTS"
mkdir -p "$SAMPLES"
"$EXAMPLE/bin/make-samples" "$SAMPLES" | sed "s#^$SAMPLES/#  #"

phase 'sluice run'
run_status=0
"${SLUICE[@]}" run "$JOB" --upload "$SAMPLES" --backend local || run_status=$?
echo "sluice run exited $run_status"

phase 'copy the results'
# The output bucket lives in the moto server, which stops with the demo: keep a copy on disk.
NODE_NO_WARNINGS=1 node --input-type=module - "$RESULTS" <<'NODE' || die "could not copy the output bucket (sluice run exited $run_status)"
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

const [target] = process.argv.slice(2);
const job = JSON.parse(await readFile('examples/jobs/thumbnails.json', 'utf8'));
const bucket = job.output.bucket;
const s3 = new S3Client({ region: job.aws.region, forcePathStyle: true });
let token;
let count = 0;
do {
  let page;
  try {
    page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
  } catch (error) {
    console.error(`cannot list s3://${bucket}/: ${error.name}: ${error.message}`);
    process.exit(1);
  }
  for (const { Key } of page.Contents ?? []) {
    if (Key.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) continue;
    const file = join(target, ...Key.split('/'));
    const body = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key }))).Body.transformToByteArray();
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, body);
    count++;
  }
  token = page.NextContinuationToken;
} while (token);
console.log(`copied ${count} objects of s3://${bucket}/ to ${target}/`);
NODE

end_phase
# The newest run's results.json (a test bed that already ran may hold earlier demo runs too).
summary=$(node -e '
  const { existsSync, readdirSync, readFileSync } = require("node:fs");
  const { join } = require("node:path");
  const ledger = join(process.argv[1], "_sluice");
  const runs = (existsSync(ledger) ? readdirSync(ledger) : [])
    .map((run) => join(ledger, run, "results.json"))
    .filter((file) => existsSync(file))
    .map((file) => ({ file, results: JSON.parse(readFileSync(file, "utf8")) }))
    .sort((a, b) => String(a.results.generatedAt).localeCompare(String(b.results.generatedAt)));
  const newest = runs.at(-1);
  if (newest === undefined) process.exit(0);
  const { counts, tasks } = newest.results;
  console.log(newest.file, counts.succeeded, counts.failed);
  for (const task of tasks.filter((t) => t.status === "failed"))
    console.log(`  failed: ${task.key}: ${task.failureClass ?? "?"}, exit ${task.exitCode ?? "-"}`);
' "$RESULTS" || true)
read -r results_json succeeded failed <<<"$(head -n 1 <<<"$summary")"
[[ -n ${results_json:-} ]] || die "no results.json in the output bucket (sluice run exited $run_status)"

say "results"
cat <<EOF
  ${succeeded} succeeded, ${failed} failed (expected ${EXPECTED_SUCCEEDED} and ${EXPECTED_FAILED}: the 2 files under broken/)
  in the output bucket (moto):  s3://sluice-demo-out/thumbnails/<input path>/{thumbnail.ppm|.pgm,stats.json}
  copied to disk:               $RESULTS/thumbnails/
  results.json:                 $results_json
$(tail -n +2 <<<"$summary")
EOF
example="$RESULTS/thumbnails/patterns/rings-800x800.ppm/stats.json"
if [[ -f $example ]]; then
  printf '\n  %s:\n' "${example#"$RESULTS/"}"
  sed 's/^/    /' "$example"
fi
if [[ $succeeded != "$EXPECTED_SUCCEEDED" || $failed != "$EXPECTED_FAILED" ]]; then
  die "the run did not end as expected: $succeeded succeeded, $failed failed"
fi
((run_status == 0)) || echo "demo: sluice run exited $run_status (it reports the 2 expected failures)"
say "done"
