# The two commands a new user needs: `make demo` and `make test`. Each installs what it needs first
# (scripts/bootstrap.sh is idempotent and quick when everything is present).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
export NX_DAEMON := false
export NX_NO_CLOUD := true
JEST := node --experimental-vm-modules node_modules/jest/bin/jest.js

.PHONY: test demo bench chaos bootstrap lint typecheck build check-dist unit integration e2e smoke

## make test: every check CI gates a landing on — lint, types, fresh bundles, unit, integration, e2e,
## chaos (CI size: 60 files per run, docs/chaos.md), smoke.
test: bootstrap lint typecheck check-dist
	$(JEST) --ci

bootstrap:  # SLUICE_VERBOSE=1 shows every installer's output (apt-get, pip, npm)
	bash scripts/bootstrap.sh

lint:
	npx nx show projects >/dev/null  # the module-boundary rule reads nx's project graph
	# Type-aware rules load the AWS SDK types (EC2 alone is large): the default heap is too small.
	NODE_OPTIONS=--max-old-space-size=8192 npx eslint . --max-warnings=0
	npx prettier --check .
	npx knip  # unused exports, files and dependencies (knip.json): a public surface of what is used

typecheck:
	npx tsc -p tsconfig.json

build:
	npx nx run-many -t build --outputStyle=static

check-dist:
	bash scripts/check-dist.sh

unit:
	$(JEST) --selectProjects unit

integration:
	$(JEST) --selectProjects integration

e2e:
	$(JEST) --selectProjects e2e

smoke:
	$(JEST) --selectProjects smoke

## make chaos: the chaos suite (docs/chaos.md) at 1,000 files per run, every fault kind: whole runs in
## direct and sealed mode while runners are SIGKILLed at each phase, a fault proxy fails requests, every
## message is delivered two or three times, the broker and collect are killed and restarted. Seeded:
## make chaos SLUICE_CHAOS_SEED=N replays a run; SLUICE_CHAOS_FILES=N sets the size. Not part of make test
## at this size (it takes about an hour here); make test runs the same suite at 60 files.
chaos: bootstrap
	SLUICE_CHAOS_FILES=$${SLUICE_CHAOS_FILES:-1000} $(JEST) --ci --selectProjects chaos

## make demo: the main job end to end on this machine — test bed, build and wrap the example
## thumbnail algorithm, generate sample images, `sluice run` with the local backend, print the summary.
demo: bootstrap
	bash scripts/demo.sh

## make bench: benchmarks that print figures, each as a ratio against a baseline measured in the same
## script (not part of make test; described in the README beside `make bench`). Uses the running test
## bed, or starts one and stops it after. About 25 min on a quiet 2-core machine. Knobs (make bench
## VAR=...): BENCH_LARGE=2000 adds the 2,000-file local run (about +35 min); BENCH_DISPATCH=20000 dispatches
## issue 17's 20,000 objects instead of 3,000 (moto's queue slows as it grows: an hour or more).
bench: bootstrap
	if bash scripts/testbed.sh status 2>/dev/null; then started=; else bash scripts/testbed.sh start; started=1; fi; \
	  trap '[[ -z $$started ]] || bash scripts/testbed.sh stop' EXIT; eval "$$(bash scripts/testbed.sh env)"; \
	  node bench/requests.mjs 100 && node bench/runner-overhead.mjs 200 && node bench/wrapped-overhead.mjs 200 50 && \
	  bash bench/local-run.sh 500 && { [[ -z "$${BENCH_LARGE:-}" ]] || bash bench/local-run.sh "$$BENCH_LARGE"; } && \
	  node bench/cpu-share.mjs && node bench/dispatch.mjs "$${BENCH_DISPATCH:-3000}" && node bench/upload-latency.mjs 20
