import { getOctokit } from '@actions/github';
import { ConfigurationError } from '@sluice/core';

/** A comment on one commit, and where the GitHub API is. */
export interface CommitCommentRequest {
  /** A token that may write to the repository (the workflow's `github.token` with `contents: write`). */
  readonly token: string;
  /** `owner/name`, as in `GITHUB_REPOSITORY`. */
  readonly repository: string;
  /** The commit, as in `GITHUB_SHA`. */
  readonly sha: string;
  /** Markdown. */
  readonly body: string;
  /**
   * The REST API's base URL, as in `GITHUB_API_URL` (GitHub Enterprise Server, or a local stand-in
   * in tests); default `https://api.github.com`.
   */
  readonly apiUrl?: string;
}

/** Posts a comment on a commit and resolves to the comment's web address. */
export type CommitCommenter = (request: CommitCommentRequest) => Promise<string>;

/**
 * Posts a commit comment through `@actions/github` (`POST /repos/{owner}/{repo}/commits/{sha}/comments`).
 * The base URL is passed explicitly rather than read when `@actions/github` is loaded, so the caller's
 * environment decides.
 *
 * @example
 * const url = await createCommitComment({ token, repository: 'octo/repo', sha, body: 'Upload to s3://in/photos/' });
 * @throws {ConfigurationError} when `repository` is not `owner/name`; the request's error (an Octokit
 *   `RequestError` with `status`) when GitHub refuses it.
 */
export const createCommitComment: CommitCommenter = async (request) => {
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
  const response = await octokit.rest.repos.createCommitComment({
    owner,
    repo,
    commit_sha: request.sha,
    body: request.body,
  });
  return response.data.html_url;
};
