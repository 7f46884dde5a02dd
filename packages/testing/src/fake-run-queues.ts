import {
  ConfigurationError,
  type EnsuredQueue,
  type EnsureQueueOptions,
  type RunQueues,
  type TaskQueue,
} from '@sluice/core';

import { systemClock, type FakeClock } from './fake-clock.js';
import { FakeTaskQueue } from './fake-task-queue.js';

/** How the fake queues behave. */
export interface FakeRunQueuesOptions {
  /** Drives the queues' visibility timeouts; a `ManualClock` makes them instant. */
  readonly clock?: FakeClock;
  /** Account and region written into URLs and ARNs. */
  readonly account?: string;
  readonly region?: string;
}

interface FakeQueueEntry {
  readonly name: string;
  readonly url: string;
  readonly arn: string;
  readonly queue: FakeTaskQueue;
  attributes: Record<string, string>;
  tags: Record<string, string>;
}

/**
 * An in-memory {@link RunQueues}: queues are {@link FakeTaskQueue}s, a queue made with a dead-letter
 * queue moves messages there after `maxReceiveCount` receives, and tags and attributes are kept as
 * given. As SQS, `ensureQueue` sets tags only when it creates a queue.
 *
 * @example
 * const queues = new FakeRunQueues({ clock });
 * const { url, deadLetter } = await queues.ensureQueue('sluice-r-tasks', { deadLetter: { maxReceiveCount: 3 } });
 * await queues.taskQueue(url).sendBatch([{ body: 'x' }]);
 */
export class FakeRunQueues implements RunQueues {
  private readonly clock: FakeClock;
  private readonly account: string;
  private readonly region: string;
  private readonly byName = new Map<string, FakeQueueEntry>();

  constructor(options: FakeRunQueuesOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.account = options.account ?? '000000000000';
    this.region = options.region ?? 'us-east-1';
  }

  ensureQueue(name: string, options: EnsureQueueOptions = {}): Promise<EnsuredQueue> {
    let deadLetter: FakeQueueEntry | undefined;
    if (options.deadLetter !== undefined) {
      deadLetter = this.ensureOne(name.concat('-dlq'), options.deadLetter.name, undefined, options);
    }
    const existed = this.byName.has(name);
    const entry = this.ensureOne(name, name, deadLetter, options);
    entry.attributes = {
      ...entry.attributes,
      VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 60),
      ...options.attributes,
    };
    return Promise.resolve({
      url: entry.url,
      arn: entry.arn,
      created: !existed,
      ...(deadLetter !== undefined && { deadLetter: { url: deadLetter.url, arn: deadLetter.arn } }),
    });
  }

  findQueueUrl(name: string): Promise<string | undefined> {
    return Promise.resolve(this.byName.get(name)?.url);
  }

  queueArn(url: string): Promise<string> {
    return settle(() => this.entry(url).arn);
  }

  setQueueAttributes(url: string, attributes: Readonly<Record<string, string>>): Promise<void> {
    return settle(() => {
      const entry = this.entry(url);
      entry.attributes = { ...entry.attributes, ...attributes };
    });
  }

  queueTags(url: string): Promise<Readonly<Record<string, string>>> {
    return settle(() => ({ ...this.entry(url).tags }));
  }

  tagQueue(url: string, tags: Readonly<Record<string, string>>): Promise<void> {
    return settle(() => {
      const entry = this.entry(url);
      entry.tags = { ...entry.tags, ...tags };
    });
  }

  deleteQueue(url: string): Promise<boolean> {
    const entry = [...this.byName.values()].find((e) => e.url === url);
    if (entry === undefined) return Promise.resolve(false);
    this.byName.delete(entry.name);
    return Promise.resolve(true);
  }

  listQueueUrls(namePrefix: string): Promise<readonly string[]> {
    return Promise.resolve(
      [...this.byName.values()].filter((e) => e.name.startsWith(namePrefix)).map((e) => e.url),
    );
  }

  taskQueue(url: string): TaskQueue {
    return this.entry(url).queue;
  }

  /** The fake queue behind a URL (for assertions: `bodies()`). */
  fakeQueue(url: string): FakeTaskQueue {
    return this.entry(url).queue;
  }

  /** Attributes of a queue as last set (for assertions). */
  attributes(url: string): Readonly<Record<string, string>> {
    return { ...this.entry(url).attributes };
  }

  /** Names of every queue that exists. */
  names(): string[] {
    return [...this.byName.keys()];
  }

  private ensureOne(
    fallbackName: string,
    name: string | undefined,
    deadLetter: FakeQueueEntry | undefined,
    options: EnsureQueueOptions,
  ): FakeQueueEntry {
    const queueName = name ?? fallbackName;
    const existing = this.byName.get(queueName);
    if (existing !== undefined) return existing;
    const entry: FakeQueueEntry = {
      name: queueName,
      url: `https://sqs.${this.region}.amazonaws.com/${this.account}/${queueName}`,
      arn: `arn:aws:sqs:${this.region}:${this.account}:${queueName}`,
      queue: new FakeTaskQueue({
        clock: this.clock,
        visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 60,
        ...(deadLetter !== undefined &&
          options.deadLetter !== undefined && {
            deadLetter: { queue: deadLetter.queue, maxReceiveCount: options.deadLetter.maxReceiveCount },
          }),
      }),
      attributes: {},
      tags: { ...options.tags },
    };
    this.byName.set(queueName, entry);
    return entry;
  }

  private entry(url: string): FakeQueueEntry {
    const entry = [...this.byName.values()].find((e) => e.url === url);
    if (entry === undefined) {
      throw new ConfigurationError(
        `${url}: QueueDoesNotExist. The queue does not exist. Run provision-run first, or check the queue URL.`,
      );
    }
    return entry;
  }
}

/** Runs `fn`, turning what it throws into a rejection, as an SDK call would fail. */
function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (thrown: unknown) {
    return Promise.reject(thrown instanceof Error ? thrown : new Error(String(thrown)));
  }
}
