// Every public export of @sluice/action-kit, named (no `export *`), as powertools-lambda-typescript's
// package indexes do.

// running a step
export { runAction } from './run-action.js';

// errors
export { InputError } from './errors.js';

// inputs, outputs, saved state
export { createInputReader } from './inputs.js';
export type { InputReader } from './inputs.js';
export { readRunTarget, stepTarget } from './run-target.js';
export type { RunTarget } from './run-target.js';
export { setOutputs } from './outputs.js';
export { defineSavedState } from './saved-state.js';
export type { SavedState } from './saved-state.js';

// documents named by inputs
export { checkDocumentFile } from './documents.js';

// the GitHub API
export {
  GITHUB_TOKEN_DEFAULT,
  commentOnPush,
  outcomeCommentMarkdown,
  readGitHubToken,
  upsertCommitComment,
} from './commit-comment.js';
export type { CommitCommenter } from './commit-comment.js';

// logging and the @actions/core seam
export { createActionsLogger } from './logger.js';
export { actionsToolkit } from './toolkit.js';
export type { ActionsToolkit } from './toolkit.js';
