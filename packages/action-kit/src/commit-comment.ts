import { getOctokit } from '@actions/github';
import { ConfigurationError, toError, type CollectReport } from '@sluice/core';
import { renderSummary, type SummaryOptions } from '@sluice/orchestrator';

import type { InputReader } from './inputs.js';
import type { ActionsToolkit } from './toolkit.js';

/** The `default:` of a token input in action.yml: an expression only the runner evaluates. */
export const GITHUB_TOKEN_DEFAULT = '${{ github.token }}';

/**
 * Reads a token input whose action.yml default is {@link GITHUB_TOKEN_DEFAULT}. Outside a runner the
 * default arrives unevaluated, which is no token at all.
 */
export function readGitHubToken(input: InputReader, name: string): string | undefined {
  const token = input.optionalString(name);
  return token === GITHUB_TOKEN_DEFAULT ? undefined : token;
}

/** A comment on one commit, and where the GitHub API is. */
export interface CommitCommentRequest {
  /** A token that may write to the repository (the workflow's `github.token` with `contents: write`). */
  readonly token: string;
  /** `owner/name`, as in `GITHUB_REPOSITORY`. */
  readonly repository: string;
  /** The commit, as in `GITHUB_SHA`. */
  readonly sha: string;
  /**
   * Names the comment among the commit's comments: a comment already carrying it is edited instead
   * of a new one posted, so a re-run updates its comment rather than adding another.
   */
  readonly marker: string;
  /** Markdown. */
  readonly body: string;
  /**
   * The REST API's base URL, as in `GITHUB_API_URL` (GitHub Enterprise Server, or a local stand-in
   * in tests); default `https://api.github.com`.
   */
  readonly apiUrl?: string;
}

/** What {@link CommitCommenter} did: the comment's web address, and whether it was new. */
export interface CommitCommentResult {
  readonly url: string;
  readonly created: boolean;
}

/** Posts (or edits) a comment on a commit. */
export type CommitCommenter = (request: CommitCommentRequest) => Promise<CommitCommentResult>;

/** The hidden line that names a comment; GitHub renders nothing for it. */
export function commentMarkerLine(marker: string): string {
  return `<!-- sluice:${marker} -->`;
}

/**
 * Posts a commit comment through `@actions/github`, or edits the commit's comment that carries the
 * same marker (`GET /repos/{owner}/{repo}/commits/{sha}/comments`, then `PATCH …/comments/{id}` or
 * `POST …/commits/{sha}/comments`). The base URL is passed explicitly rather than read when
 * `@actions/github` is loaded, so the caller's environment decides.
 *
 * @example
 * const { url } = await upsertCommitComment({ token, repository: 'octo/repo', sha, marker: 'run=a-1:upload', body });
 * @throws {ConfigurationError} when `repository` is not `owner/name`; the request's error (an Octokit
 *   `RequestError` with `status`) when GitHub refuses it.
 */
export const upsertCommitComment: CommitCommenter = async (request) => {
  const [owner, repo, ...rest] = request.repository.split('/');
  if (owner === undefined || owner === '' || repo === undefined || repo === '' || rest.length > 0) {
    throw new ConfigurationError(
      `the repository ${JSON.stringify(request.repository)} is not owner/name (GITHUB_REPOSITORY)`,
    );
  }
  const octokit = getOctokit(
    request.token,
    request.apiUrl === undefined ? {} : { baseUrl: request.apiUrl.replace(/\/+$/, '') },
  );
  const markerLine = commentMarkerLine(request.marker);
  const body = `${markerLine}\n${request.body}`;
  const existing = await octokit.paginate(octokit.rest.repos.listCommentsForCommit, {
    owner,
    repo,
    commit_sha: request.sha,
    per_page: 100,
  });
  const mine = existing.find((comment) => comment.body.split('\n', 1)[0] === markerLine);
  if (mine !== undefined) {
    const response = await octokit.rest.repos.updateCommitComment({ owner, repo, comment_id: mine.id, body });
    return { url: response.data.html_url, created: false };
  }
  const response = await octokit.rest.repos.createCommitComment({
    owner,
    repo,
    commit_sha: request.sha,
    body,
  });
  return { url: response.data.html_url, created: true };
};

/** A comment for the commit a push triggered the workflow for. */
export interface PushCommentRequest {
  /** Says what the comment is for in warnings: "the upload comment". */
  readonly what: string;
  readonly marker: string;
  readonly body: string;
  /** Undefined: no token was given (the warning says which input to set). */
  readonly token: string | undefined;
  /** The input that takes the token, for the warning. */
  readonly tokenInput: string;
}

/** The world {@link commentOnPush} talks to. */
export interface PushCommentWorld {
  readonly toolkit: ActionsToolkit;
  readonly comment: CommitCommenter;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/**
 * Comments on the pushed commit when a push triggered the workflow (other events have no pusher to
 * tell), linking the workflow run. Whatever goes wrong is a warning: a step never fails for its
 * comment.
 *
 * @example
 * await commentOnPush({ what: 'the upload comment', marker, body, token, tokenInput: 'github-token' }, { toolkit, comment, env });
 * @throws never.
 */
export async function commentOnPush(request: PushCommentRequest, world: PushCommentWorld): Promise<void> {
  const { toolkit, comment, env } = world;
  if (env.GITHUB_EVENT_NAME !== 'push') return;
  const { GITHUB_REPOSITORY: repository, GITHUB_SHA: sha, GITHUB_API_URL: apiUrl } = env;
  if (request.token === undefined) {
    toolkit.warning(
      `no commit comment (${request.what}): input \`${request.tokenInput}\` is empty. ` +
        `Leave it at its default (\${{ github.token }}) to hear from sluice on the pushed commit.`,
    );
    return;
  }
  if (repository === undefined || repository === '' || sha === undefined || sha === '') {
    toolkit.warning(`no commit comment (${request.what}): GITHUB_REPOSITORY or GITHUB_SHA is not set.`);
    return;
  }
  const link = workflowRunLink(env);
  try {
    const { url, created } = await comment({
      token: request.token,
      repository,
      sha,
      marker: request.marker,
      body: link === undefined ? request.body : `${request.body}\n[The workflow run](${link})\n`,
      ...(apiUrl !== undefined && apiUrl !== '' && { apiUrl }),
    });
    toolkit.info(`${created ? 'commented on' : 'updated the comment on'} ${sha.slice(0, 12)}: ${url}`);
  } catch (thrown: unknown) {
    toolkit.warning(
      `could not comment on commit ${sha.slice(0, 12)} (${request.what}: ${toError(thrown).message}). ` +
        `The workflow's token needs \`permissions: contents: write\` to comment.`,
    );
  }
}

/** The web page of this workflow run, when the runner's variables say where it is. */
export function workflowRunLink(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repository, GITHUB_RUN_ID: runId } = env;
  if (server === undefined || repository === undefined || runId === undefined) return undefined;
  return `${server}/${repository}/actions/runs/${runId}`;
}

/** A commit comment holds at most 65,536 characters; the rendered comment stays well under. */
const COMMENT_MAX_BYTES = 60_000;
/** Failures a commit comment lists; the job summary and results.json have the rest. */
const COMMENT_MAX_FAILURES = 20;

/**
 * A run's outcome as a commit comment: the job summary's counts, first failures (without their log
 * tails) and slowest tasks, cut to what GitHub takes in a comment.
 *
 * @example
 * const { report, summaryOptions } = await collectStep(target, options, context);
 * await upsertCommitComment({ …, body: outcomeCommentMarkdown(report, summaryOptions) });
 * @throws never.
 */
export function outcomeCommentMarkdown(report: CollectReport, summary: SummaryOptions): string {
  const { logTails: _shownInTheJobSummary, ...options } = summary;
  return renderSummary(report, {
    ...options,
    maxBytes: COMMENT_MAX_BYTES,
    maxFailures: COMMENT_MAX_FAILURES,
  });
}
