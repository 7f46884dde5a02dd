/**
 * The queue administration a run's lifecycle needs (provision, teardown, re-drive), apart from the
 * per-message work of {@link TaskQueue}: create and find queues, read and set their tags and
 * attributes, list them by name, delete them. The SQS adapter implements it (`SqsRunQueues`);
 * `@sluice/testing` has an in-memory fake (`FakeRunQueues`) whose queues are `FakeTaskQueue`s.
 */
import type { EnsureQueueOptions, EnsuredQueue } from './sqs-task-queue.js';
import type { TaskQueue } from './task-queue.js';

/**
 * Queue administration for a run. Every method may throw `ConfigurationError` (denied, bad
 * credentials) or `AwsRequestError` (a fault).
 *
 * @example
 * const queues: RunQueues = new SqsRunQueues(new SQSClient({}));
 * const { url } = await queues.ensureQueue('sluice-run-1-tasks', { deadLetter: { maxReceiveCount: 3 } });
 * await queues.taskQueue(url).sendBatch([{ body: 'hello' }]);
 */
export interface RunQueues {
  /**
   * Creates the queue (and its dead-letter queue) unless it exists, else converges its attributes.
   * Tags are set only on creation (use `tagQueue` to tag an existing queue).
   */
  ensureQueue(name: string, options?: EnsureQueueOptions): Promise<EnsuredQueue>;

  /** The URL of a queue by name; `undefined` when there is none. */
  findQueueUrl(name: string): Promise<string | undefined>;

  /**
   * The queue's ARN.
   * @throws ConfigurationError when the queue does not exist.
   */
  queueArn(url: string): Promise<string>;

  /**
   * Sets attributes of an existing queue (e.g. `Policy`, `VisibilityTimeout`).
   * @throws ConfigurationError when the queue does not exist or an attribute is refused.
   */
  setQueueAttributes(url: string, attributes: Readonly<Record<string, string>>): Promise<void>;

  /**
   * The queue's tags; empty when it has none.
   * @throws ConfigurationError when the queue does not exist.
   */
  queueTags(url: string): Promise<Readonly<Record<string, string>>>;

  /**
   * Adds or overwrites tags on the queue; other tags stay.
   * @throws ConfigurationError when the queue does not exist.
   */
  tagQueue(url: string, tags: Readonly<Record<string, string>>): Promise<void>;

  /** Deletes the queue and its messages; `false` when it did not exist. Idempotent. */
  deleteQueue(url: string): Promise<boolean>;

  /** URLs of the queues whose names start with `namePrefix` (SQS lists new queues with a delay). */
  listQueueUrls(namePrefix: string): Promise<readonly string[]>;

  /** The per-message view of a queue. */
  taskQueue(url: string): TaskQueue;
}
