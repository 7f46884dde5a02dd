// Every public export of @sluice/action-kit, named (no `export *`), as powertools-lambda-typescript's
// package indexes do.

// running a step
export { runAction } from './run-action.js';
export type { ActionStep } from './run-action.js';

// errors
export { InputError, StepNotAvailableError } from './errors.js';

// inputs, outputs, saved state
export { createInputReader } from './inputs.js';
export type { InputReader, IntegerBounds } from './inputs.js';
export { readRunTarget, stepTarget } from './run-target.js';
export type { RunTarget, RunTargetInputs } from './run-target.js';
export { setOutputs } from './outputs.js';
export type { OutputValue } from './outputs.js';
export { defineSavedState } from './saved-state.js';
export type { SavedState } from './saved-state.js';

// documents named by inputs
export { checkDocumentFile } from './documents.js';
export type { DocumentFileRequest } from './documents.js';

// the GitHub API
export {
  GITHUB_TOKEN_DEFAULT,
  commentMarkerLine,
  commentOnPush,
  outcomeCommentMarkdown,
  readGitHubToken,
  upsertCommitComment,
  workflowRunLink,
} from './commit-comment.js';
export type {
  CommitCommenter,
  CommitCommentRequest,
  CommitCommentResult,
  PushCommentRequest,
  PushCommentWorld,
} from './commit-comment.js';

// logging and the @actions/core seam
export { createActionsLogger } from './logger.js';
export { actionsToolkit } from './toolkit.js';
export type { ActionsToolkit, AnnotationProperties } from './toolkit.js';
