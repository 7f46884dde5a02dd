import { describe, expect, it } from '@jest/globals';
import { ConfigurationError, InfrastructureError, ValidationError } from '@sluice/core';

import { StepNotAvailableError } from './errors.js';
import { runAction } from './run-action.js';
import { createMemoryToolkit } from '@sluice/testing';

describe('runAction', () => {
  it('leaves the step green when main succeeds', async () => {
    const toolkit = createMemoryToolkit();

    await runAction(() => Promise.resolve(), undefined, toolkit);

    expect(toolkit.failure()).toBeUndefined();
  });

  it('annotates each validation problem on its file, then fails with a summary', async () => {
    const toolkit = createMemoryToolkit();
    const problems = [
      {
        file: 'job.json',
        path: '$.retries',
        message: 'must be >= 0',
        expected: 'an integer >= 0',
        found: '-1',
      },
      { file: 'job.json', path: '$.name', message: 'is required' },
    ];

    await runAction(() => Promise.reject(new ValidationError(problems)), undefined, toolkit);

    const annotations = toolkit.messages.filter((m) => m.level === 'error');
    expect(annotations).toEqual([
      {
        level: 'error',
        message: 'job.json: $.retries: must be >= 0 (expected an integer >= 0, found -1)',
        properties: { file: 'job.json', title: 'sluice: $.retries' },
      },
      {
        level: 'error',
        message: 'job.json: $.name: is required',
        properties: { file: 'job.json', title: 'sluice: $.name' },
      },
    ]);
    expect(toolkit.failure()).toMatch(/^Validation failed: 2 problems in job\.json/);
  });

  it('fails with the message alone for a user error, without a stack', async () => {
    const toolkit = createMemoryToolkit();

    await runAction(
      () => Promise.reject(new ConfigurationError('Input `job` is required.')),
      undefined,
      toolkit,
    );

    expect(toolkit.failure()).toBe('Input `job` is required.');
    expect(toolkit.messages.some((m) => m.message.includes('    at '))).toBe(false);
  });

  it('fails with the message for a fault and puts the stack and its cause in the debug log', async () => {
    const toolkit = createMemoryToolkit();
    const fault = new InfrastructureError('SQS did not answer', { cause: new Error('ECONNRESET') });

    await runAction(() => Promise.reject(fault), undefined, toolkit);

    expect(toolkit.failure()).toBe('SQS did not answer');
    const debug = toolkit.messages.filter((m) => m.level === 'debug').map((m) => m.message);
    expect(debug[0]).toContain('InfrastructureError: SQS did not answer');
    expect(debug[1]).toContain('caused by: Error: ECONNRESET');
  });

  it('fails for things thrown that are not errors', async () => {
    const toolkit = createMemoryToolkit();

    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the case under test
    await runAction(() => Promise.reject('plain text'), undefined, toolkit);

    expect(toolkit.failure()).toBe('plain text');
  });

  it('says a step is not available yet as a failure, not a success', async () => {
    const toolkit = createMemoryToolkit();

    await runAction(
      () => Promise.reject(new StepNotAvailableError('teardown', 'issue #5')),
      undefined,
      toolkit,
    );

    expect(toolkit.failure()).toContain('arrives with issue #5');
  });

  it('runs main on the first start and post on the second when a post step is given', async () => {
    const toolkit = createMemoryToolkit();
    const ran: string[] = [];
    const main = (): Promise<void> => {
      ran.push('main');
      return Promise.resolve();
    };
    const post = (): Promise<void> => {
      ran.push('post');
      return Promise.resolve();
    };

    await runAction(main, post, toolkit);
    await runAction(main, post, toolkit);

    expect(ran).toEqual(['main', 'post']);
  });

  it('reports a failing post step like a failing main step', async () => {
    const toolkit = createMemoryToolkit({ state: { 'sluice-is-post': 'true' } });

    await runAction(
      () => Promise.resolve(),
      () => Promise.reject(new ConfigurationError('nothing to clean up')),
      toolkit,
    );

    expect(toolkit.failure()).toBe('nothing to clean up');
  });
});
