import {
  actionsToolkit,
  checkDocumentFile,
  createActionsLogger,
  createCommitComment,
  createInputReader,
  setOutputs,
  type ActionsToolkit,
  type CommitCommenter,
} from '@sluice/action-kit';
import { provisionStep, toError, type ProvisionStepResult, type StepContext } from '@sluice/core';

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
  comment: createCommitComment,
  env: process.env,
};

/**
 * provision-run: checks the job, provisions its run (idempotent), tells the user where to upload —
 * in the job summary and, for a push, as a comment on the pushed commit — and sets run-id,
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
  if (env.GITHUB_EVENT_NAME === 'push') {
    await commentOnPush(run, message, inputs.githubToken, { toolkit, comment, env });
  }
  setOutputs(
    { [Outputs.runId]: run.runId, [Outputs.queueUrl]: run.queueUrl, [Outputs.uploadTo]: run.uploadTo },
    toolkit,
  );
}

/** A comment on the pushed commit; whatever goes wrong is a warning, the run is provisioned anyway. */
async function commentOnPush(
  run: ProvisionStepResult,
  message: string,
  token: string | undefined,
  world: { toolkit: ActionsToolkit; comment: CommitCommenter; env: ProvisionRunDeps['env'] },
): Promise<void> {
  const { toolkit, comment, env } = world;
  const repository = env.GITHUB_REPOSITORY;
  const sha = env.GITHUB_SHA;
  if (token === undefined) {
    toolkit.warning(
      `no commit comment for run ${run.runId}: input \`${Inputs.githubToken}\` is empty. ` +
        `Leave it at its default (\${{ github.token }}) to be told where to upload on the commit.`,
    );
    return;
  }
  if (repository === undefined || repository === '' || sha === undefined || sha === '') {
    toolkit.warning(`no commit comment for run ${run.runId}: GITHUB_REPOSITORY or GITHUB_SHA is not set.`);
    return;
  }
  const apiUrl = env.GITHUB_API_URL;
  const link = workflowRunLink(env);
  try {
    const url = await comment({
      token,
      repository,
      sha,
      body: link === undefined ? message : `${message}\n[The workflow run](${link})\n`,
      ...(apiUrl !== undefined && apiUrl !== '' && { apiUrl }),
    });
    toolkit.info(`commented on ${sha.slice(0, 12)}: ${url}`);
  } catch (thrown: unknown) {
    toolkit.warning(
      `could not comment on commit ${sha.slice(0, 12)} (${toError(thrown).message}); the run is provisioned ` +
        `all the same. The workflow's token needs \`permissions: contents: write\` to comment.`,
    );
  }
}

function workflowRunLink(env: ProvisionRunDeps['env']): string | undefined {
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repository, GITHUB_RUN_ID: runId } = env;
  if (server === undefined || repository === undefined || runId === undefined) return undefined;
  return `${server}/${repository}/actions/runs/${runId}`;
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
