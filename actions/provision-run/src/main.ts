import {
  actionsToolkit,
  checkDocumentFile,
  createActionsLogger,
  commentOnPush,
  createInputReader,
  setOutputs,
  upsertCommitComment,
  type ActionsToolkit,
  type CommitCommenter,
} from '@sluice/action-kit';
import {
  loadWatcherZip,
  locateWatcherBundle,
  provisionStep,
  type ProvisionStepResult,
  type StepContext,
} from '@sluice/orchestrator';
import { toError } from '@sluice/core';

import { Inputs, Outputs } from './constants.js';
import { readInputs } from './inputs.js';
import { provisionedRun } from './post.js';

/** What main talks to besides the toolkit; tests pass fakes, the bundle the real ones. */
export interface ProvisionRunDeps {
  readonly provision: (jobPath: string, context: StepContext) => Promise<ProvisionStepResult>;
  readonly comment: CommitCommenter;
  readonly env: Readonly<Record<string, string | undefined>>;
}

const realDeps: ProvisionRunDeps = {
  provision: provisionStep,
  comment: upsertCommitComment,
  env: process.env,
};

/**
 * provision-run: checks the job, provisions its run (idempotent), tells the user where to upload —
 * in the job summary and, for a push, as a comment on the pushed commit (edited, not repeated, when
 * the workflow is re-run) — and sets run-id,
 * queue-url and upload-to, once, at the end.
 */
export async function main(
  toolkit: ActionsToolkit = actionsToolkit,
  deps: Partial<ProvisionRunDeps> = {},
): Promise<void> {
  const { provision, comment, env } = { ...realDeps, ...deps };
  const inputs = readInputs(createInputReader(toolkit));
  if (inputs.githubToken !== undefined) toolkit.setSecret(inputs.githubToken);
  await checkDocumentFile({ path: inputs.job, input: Inputs.job, kind: 'job' });
  const context: StepContext = {
    logger: createActionsLogger(toolkit),
    env,
    // This action's bundle carries the watcher Lambda in dist/lambda/ (its build copies it there).
    watcherZip: () => loadWatcherZip(locateWatcherBundle(import.meta.url)),
    ...(inputs.backend !== undefined && { backend: inputs.backend }),
  };

  // Saved before provisioning: a provision that fails half-way is torn down by the post step too.
  provisionedRun(toolkit).save({ job: inputs.job, backend: inputs.backend ?? null });
  const run = await provision(inputs.job, context);

  for (const warning of run.warnings) toolkit.warning(warning);
  toolkit.info(`run ${run.runId}: provisioned; upload input files to ${run.uploadTo}`);
  const message = uploadMessage(run);
  try {
    await toolkit.appendSummary(message);
  } catch (thrown: unknown) {
    toolkit.warning(`could not write the job summary: ${toError(thrown).message}`);
  }
  await commentOnPush(
    {
      what: `where to upload for run ${run.runId}`,
      marker: uploadCommentMarker(run.runId),
      body: message,
      token: inputs.githubToken,
      tokenInput: Inputs.githubToken,
    },
    { toolkit, comment, env },
  );
  setOutputs(
    { [Outputs.runId]: run.runId, [Outputs.queueUrl]: run.queueUrl, [Outputs.uploadTo]: run.uploadTo },
    toolkit,
  );
}

/** Names the upload comment of a run among the commit's comments (collect-results' is another). */
export function uploadCommentMarker(runId: string): string {
  return `run=${runId}:upload`;
}

/** Inline code that survives backticks in the text. */
function code(text: string): string {
  return text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``;
}

/** Where to upload and how to say the input is complete, as Markdown for the summary and the comment. */
export function uploadMessage(run: ProvisionStepResult): string {
  const lines = [
    `### sluice: run ${code(run.runId)} is ready for input`,
    '',
    `Upload the files to process to **${code(run.uploadTo)}**; each is queued as it arrives. For example:`,
    '',
    '```sh',
    `aws s3 cp --recursive ./input ${run.uploadTo}`,
    '```',
    '',
    `When everything is uploaded, say so (collect-results with \`until: marker\` waits for it):`,
    '',
    '```sh',
    `echo | aws s3 cp - ${run.endMarker}`,
    '```',
    '',
    `| run id | task queue |`,
    `| --- | --- |`,
    `| ${code(run.runId)} | ${code(run.queueUrl)} |`,
  ];
  if (run.warnings.length > 0) {
    lines.push('', '**Warnings**', '', ...run.warnings.map((warning) => `- ${warning}`));
  }
  return `${lines.join('\n')}\n`;
}
