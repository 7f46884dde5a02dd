import { describe, expect, it } from '@jest/globals';

import { ConfigurationError, ValidationError } from '../errors.js';
import { parseWatcherEvent, type WatcherEvent } from './watcher-event.js';

const event: WatcherEvent = {
  sluice: 'watcher/1',
  runId: 'thumbs-3f9a0c12',
  queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/sluice-thumbs-3f9a0c12-tasks',
  maxWorkers: 4,
  minWorkers: 0,
  launch: {
    cluster: 'arn:aws:ecs:eu-west-1:123456789012:cluster/sluice',
    taskDefinition: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/sluice-thumbs:3',
    startedBy: 'thumbs-3f9a0c12',
    capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }],
    networkConfiguration: {
      awsvpcConfiguration: { subnets: ['subnet-1'], securityGroups: ['sg-1'], assignPublicIp: 'DISABLED' },
    },
    overrides: {
      containerOverrides: [
        {
          name: 'algorithm',
          environment: [{ name: 'SLUICE_RUN', value: '{"runId":"thumbs-3f9a0c12"}' }],
          memory: 1024,
        },
      ],
      taskRoleArn: 'arn:aws:iam::123456789012:role/sluice-thumbs-3f9a0c12-task',
      cpu: '512',
      memory: '1024',
    },
    tags: [{ key: 'sluice:run-id', value: 'thumbs-3f9a0c12' }],
    propagateTags: 'TASK_DEFINITION',
    enableECSManagedTags: true,
  },
};

describe('parseWatcherEvent', () => {
  it('accepts a complete event as it is', () => {
    expect(parseWatcherEvent(JSON.parse(JSON.stringify(event)))).toEqual(event);
  });

  it.each([
    [
      'a missing startedBy',
      { ...event, launch: { ...event.launch, startedBy: undefined } },
      '$.launch.startedBy',
    ],
    ['a count', { ...event, launch: { ...event.launch, count: 2 } }, '$.launch.count'],
    ['an unknown top-level key', { ...event, extra: true }, '$.extra'],
    ['null for an optional value', { ...event, launch: { ...event.launch, group: null } }, '$.launch.group'],
    ['a bad run id', { ...event, runId: 'Thumbs' }, '$.runId'],
    ['no workers at all', { ...event, maxWorkers: 0 }, '$.maxWorkers'],
  ])('refuses %s, naming the place', (_what, value, path) => {
    expect(() => parseWatcherEvent(value)).toThrow(ValidationError);
    expect(() => parseWatcherEvent(value)).toThrow(path);
  });

  it('refuses minWorkers above maxWorkers', () => {
    expect(() => parseWatcherEvent({ ...event, minWorkers: 5 })).toThrow(ConfigurationError);
  });
});
