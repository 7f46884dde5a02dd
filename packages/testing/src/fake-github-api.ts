// A stand-in for the part of GitHub's REST API that sluice's actions call (commit comments), on a
// loopback port: GitHub itself cannot be reached from the test machines. It keeps the comments it
// is given, so listing, editing and posting behave as a sequence of calls does on GitHub.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the fake API received. */
export interface ReceivedGitHubRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

/** A commit comment as the fake API keeps it. */
export interface FakeCommitComment {
  readonly id: number;
  readonly repository: string;
  readonly sha: string;
  body: string;
  readonly html_url: string;
}

const LIST_OR_CREATE = /^\/repos\/([^/]+)\/([^/]+)\/commits\/([^/]+)\/comments$/;
const UPDATE = /^\/repos\/([^/]+)\/([^/]+)\/comments\/(\d+)$/;

/**
 * Commit comments over HTTP: `GET`/`POST /repos/{owner}/{repo}/commits/{sha}/comments` and
 * `PATCH /repos/{owner}/{repo}/comments/{id}`. Set `refuseWith` to answer every request with that
 * status, as GitHub does for a token without `contents: write` (403).
 *
 * @example
 * const api = new FakeGitHubApi();
 * const url = await api.start(); // GITHUB_API_URL for the action
 * // … run the action …
 * api.commentsOn('octo/photos', sha).map((c) => c.body);
 * await api.stop();
 */
export class FakeGitHubApi {
  readonly received: ReceivedGitHubRequest[] = [];
  readonly comments: FakeCommitComment[] = [];
  /** When set, every request is refused with this status. */
  refuseWith: number | undefined;
  private nextId = 1;
  private readonly server: Server = createServer((request, response) => {
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString()));
    request.on('end', () => {
      const path = (request.url ?? '').split('?', 1)[0] ?? '';
      const body = JSON.parse(text === '' ? '{}' : text) as Record<string, unknown>;
      this.received.push({ method: request.method ?? '', path, headers: request.headers, body });
      const [status, answer] = this.answer(request.method ?? '', path, body);
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(answer));
    });
  });

  /** Listens on a free loopback port; resolves to the API's base URL. */
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.close((error) => {
        if (error === undefined) resolve();
        else reject(error);
      });
    });
  }

  /** The comments on one commit, oldest first. */
  commentsOn(repository: string, sha: string): FakeCommitComment[] {
    return this.comments.filter((c) => c.repository === repository && c.sha === sha);
  }

  /** Forgets every comment and request. */
  reset(): void {
    this.received.length = 0;
    this.comments.length = 0;
    this.refuseWith = undefined;
  }

  private answer(method: string, path: string, body: Record<string, unknown>): [number, unknown] {
    if (this.refuseWith !== undefined) {
      return [this.refuseWith, { message: 'Resource not accessible by integration' }];
    }
    const onCommit = LIST_OR_CREATE.exec(path);
    if (onCommit !== null) {
      const repository = `${onCommit[1] ?? ''}/${onCommit[2] ?? ''}`;
      const sha = onCommit[3] ?? '';
      if (method === 'GET') return [200, this.commentsOn(repository, sha)];
      if (method === 'POST' && typeof body.body === 'string') {
        const id = this.nextId++;
        const comment = {
          id,
          repository,
          sha,
          body: body.body,
          html_url: `https://github.example/${repository}/commit/${sha}#commitcomment-${id}`,
        };
        this.comments.push(comment);
        return [201, comment];
      }
    }
    const update = UPDATE.exec(path);
    if (update !== null && method === 'PATCH' && typeof body.body === 'string') {
      const comment = this.comments.find((c) => c.id === Number(update[3]));
      if (comment === undefined) return [404, { message: 'Not Found' }];
      comment.body = body.body;
      return [200, comment];
    }
    return [404, { message: `Not Found: ${method} ${path}` }];
  }
}
