// Every export of @sluice/orchestrator: the steps of a run as the actions and the CLI call them, named (no `export *`).

export { wrap, wrapDestinations } from './wrap.js';
export type { PushRequest, PushTarget, WrapOptions, WrapResult } from './wrap.js';
export { LOG_TAIL_BYTES, SUMMARY_MAX_BYTES, fetchLogTails, renderSummary } from './summary.js';
export type { SummaryOptions } from './summary.js';
export { collectStep, dispatchStep, provisionStep, teardownStep } from './steps.js';
export type {
  CollectStepOptions,
  CollectStepResult,
  DispatchStepResult,
  ProvisionStepResult,
  RunTarget,
  StepContext,
} from './steps.js';
export {
  attemptLogs,
  cancelRun,
  failedTasks,
  findTaskRecord,
  forEachTaskRecord,
  inspectClients,
  listRuns,
  logTail,
  runStatus,
} from './inspect.js';
export type {
  AttemptLog,
  CancelReport,
  FailedTask,
  InspectDeps,
  RecordCounts,
  RecordRead,
  RunListing,
  RunStatus,
} from './inspect.js';
export { loadWatcherZip, locateWatcherBundle } from './watcher-bundle.js';
