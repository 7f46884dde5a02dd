// Every export of @sluice/orchestrator, named (no `export *`): the steps of a run as the actions and
// the CLI call them, with the clients, the container engine and the workers wired from the caller's
// environment.

// the steps
export type { RunTarget, StepContext } from './context.js';
export { provisionStep } from './steps/provision.js';
export type { ProvisionStepResult } from './steps/provision.js';
export { dispatchStep } from './steps/dispatch.js';
export type { DispatchStepResult } from './steps/dispatch.js';
export { collectStep } from './steps/collect.js';
export type { CollectStepOptions, CollectStepResult } from './steps/collect.js';
export { teardownStep } from './steps/teardown.js';
export { wrap, wrapDestinations } from './wrap.js';
export { initAlgorithm } from './init.js';
export { closeLocalBrokers } from './backends/local-broker.js';
export { loadWatcherZip, locateWatcherBundle } from './watcher-bundle.js';

// the run's summary (job summary, `sluice collect --summary`)
export { renderSummary } from './summary.js';
export type { SummaryOptions } from './summary.js';

// looking into runs: status, logs, runs, cancel
export {
  attemptLogs,
  cancelRun,
  failedTasks,
  findTaskRecord,
  inspectClients,
  listRuns,
  logTail,
  runStatus,
} from './inspect.js';
export type { AttemptLog, CancelReport, InspectDeps, RunListing, RunStatus } from './inspect.js';
