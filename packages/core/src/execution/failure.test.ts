import { describe, expect, it } from '@jest/globals';

import { classifyAttempt, type AttemptEvidence } from './failure.js';

const policy = {
  retry: { permanentExitCodes: [42], retryOnTimeout: true, retryOnOutOfMemory: false },
  allowEmptyOutput: false,
};
const process = (fields: Partial<Extract<AttemptEvidence, { kind: 'process' }>>): AttemptEvidence => ({
  kind: 'process',
  exitCode: 0,
  signal: null,
  timedOut: false,
  outOfMemory: false,
  ...fields,
});
const port = (fields: Partial<Extract<AttemptEvidence, { kind: 'port' }>>): AttemptEvidence => ({
  kind: 'port',
  timedOut: false,
  serverDied: false,
  outOfMemory: false,
  ...fields,
});

describe('classifyAttempt', () => {
  it.each<[string, AttemptEvidence, string | undefined, boolean | undefined]>([
    ['exit 0', process({}), undefined, undefined],
    ['exit 3', process({ exitCode: 3 }), 'algorithm-exit', true],
    ['a permanent exit code', process({ exitCode: 42 }), 'algorithm-exit', false],
    ['killed by a signal', process({ exitCode: null, signal: 'SIGSEGV' }), 'algorithm-exit', true],
    [
      'out of memory',
      process({ exitCode: null, signal: 'SIGKILL', outOfMemory: true }),
      'out-of-memory',
      false,
    ],
    ['timed out', process({ exitCode: null, signal: 'SIGTERM', timedOut: true }), 'timeout', true],
    [
      'could not start',
      process({ exitCode: null, startError: 'could not start /x: ENOENT' }),
      'infrastructure',
      false,
    ],
    ['port 200', port({ status: 200 }), undefined, undefined],
    ['port 422', port({ status: 422, message: 'bad image' }), 'algorithm-exit', false],
    ['port 503', port({ status: 503 }), 'algorithm-exit', true],
    ['port server died', port({ serverDied: true }), 'algorithm-exit', true],
    ['port server OOM', port({ serverDied: true, outOfMemory: true }), 'out-of-memory', false],
    ['port time-out', port({ timedOut: true }), 'timeout', true],
    ['port no answer', port({}), 'algorithm-exit', true],
    ['no outputs', { kind: 'outputs', count: 0 }, 'no-output', false],
    ['some outputs', { kind: 'outputs', count: 2 }, undefined, undefined],
    ['an unsafe output', { kind: 'outputs', count: 1, unsafe: 'a link outside' }, 'upload-failed', false],
    ['input gone', { kind: 'input', gone: true, message: 'gone' }, 'input-unreadable', false],
    ['input download failed', { kind: 'input', gone: false, message: 'reset' }, 'input-unreadable', true],
    ['upload failed', { kind: 'upload', message: 'slow down' }, 'upload-failed', true],
    ['infrastructure', { kind: 'infrastructure', message: 'engine' }, 'infrastructure', true],
  ])('%s', (_name, evidence, failureClass, retryable) => {
    const verdict = classifyAttempt(evidence, policy);
    if (failureClass === undefined) {
      expect(verdict.ok).toBe(true);
    } else {
      expect(verdict).toEqual(expect.objectContaining({ ok: false, failureClass, retryable }));
    }
  });

  it('follows the retry policy for time-outs and memory, and allowEmptyOutput', () => {
    const strict = {
      retry: { permanentExitCodes: [], retryOnTimeout: false, retryOnOutOfMemory: true },
      allowEmptyOutput: true,
    };
    expect(classifyAttempt(process({ timedOut: true }), strict)).toEqual(
      expect.objectContaining({ retryable: false }),
    );
    expect(classifyAttempt(process({ outOfMemory: true }), strict)).toEqual(
      expect.objectContaining({ retryable: true }),
    );
    expect(classifyAttempt({ kind: 'outputs', count: 0 }, strict)).toEqual({ ok: true });
  });
});
