import {
  DeleteQueueCommand,
  ListQueueTagsCommand,
  SetQueueAttributesCommand,
  TagQueueCommand,
  paginateListQueues,
  type SQSClient,
} from '@aws-sdk/client-sqs';

import { describeAwsError } from '../aws/errors.js';
import { classifySqsError } from './errors.js';
import type { RunQueues } from './run-queues.js';
import {
  SqsQueues,
  SqsTaskQueue,
  type EnsureQueueOptions,
  type EnsuredQueue,
  type SqsTaskQueueOptions,
} from './sqs-task-queue.js';
import type { TaskQueue } from './task-queue.js';

const MISSING_QUEUE_CODES: ReadonlySet<string> = new Set([
  'QueueDoesNotExist',
  'AWS.SimpleQueueService.NonExistentQueue',
]);

/**
 * {@link RunQueues} on Amazon SQS or the moto server, over {@link SqsQueues} and
 * {@link SqsTaskQueue}.
 *
 * @example
 * const queues = new SqsRunQueues(new SQSClient({}));
 * const url = await queues.findQueueUrl('sluice-run-1-tasks');
 * if (url !== undefined) console.log(await queues.queueTags(url));
 * @throws ConfigurationError from any method when access is denied (or, for the per-queue methods,
 *   the queue does not exist); AwsRequestError for faults.
 */
export class SqsRunQueues implements RunQueues {
  private readonly queues: SqsQueues;

  constructor(
    private readonly client: SQSClient,
    private readonly taskQueueOptions: SqsTaskQueueOptions = {},
  ) {
    this.queues = new SqsQueues(client);
  }

  ensureQueue(name: string, options: EnsureQueueOptions = {}): Promise<EnsuredQueue> {
    return this.queues.ensureQueue(name, options);
  }

  findQueueUrl(name: string): Promise<string | undefined> {
    return this.queues.findQueueUrl(name);
  }

  queueArn(url: string): Promise<string> {
    return this.queues.queueArn(url);
  }

  async setQueueAttributes(url: string, attributes: Readonly<Record<string, string>>): Promise<void> {
    try {
      await this.client.send(
        new SetQueueAttributesCommand({
          QueueUrl: url,
          Attributes: { ...attributes },
        }),
      );
    } catch (thrown: unknown) {
      throw classifySqsError(thrown, 'SQS.SetQueueAttributes', url);
    }
  }

  async queueTags(url: string): Promise<Readonly<Record<string, string>>> {
    try {
      const output = await this.client.send(new ListQueueTagsCommand({ QueueUrl: url }));
      return { ...output.Tags };
    } catch (thrown: unknown) {
      throw classifySqsError(thrown, 'SQS.ListQueueTags', url);
    }
  }

  async tagQueue(url: string, tags: Readonly<Record<string, string>>): Promise<void> {
    try {
      await this.client.send(new TagQueueCommand({ QueueUrl: url, Tags: { ...tags } }));
    } catch (thrown: unknown) {
      throw classifySqsError(thrown, 'SQS.TagQueue', url);
    }
  }

  async deleteQueue(url: string): Promise<boolean> {
    try {
      await this.client.send(new DeleteQueueCommand({ QueueUrl: url }));
      return true;
    } catch (thrown: unknown) {
      if (MISSING_QUEUE_CODES.has(describeAwsError(thrown).code)) return false;
      throw classifySqsError(thrown, 'SQS.DeleteQueue', url);
    }
  }

  async listQueueUrls(namePrefix: string): Promise<readonly string[]> {
    const urls: string[] = [];
    try {
      for await (const page of paginateListQueues(
        { client: this.client, pageSize: 1000 },
        { QueueNamePrefix: namePrefix },
      )) {
        urls.push(...(page.QueueUrls ?? []));
      }
    } catch (thrown: unknown) {
      throw classifySqsError(thrown, 'SQS.ListQueues', namePrefix);
    }
    return urls;
  }

  taskQueue(url: string): TaskQueue {
    return new SqsTaskQueue(this.client, url, this.taskQueueOptions);
  }
}
