import { describe, expect, it } from '@jest/globals';

import { s3ObjectConsoleUrl, taskLogLink, taskLogStreamName } from './run-log-group.js';

const RUN = 'thumbs-3f9a0c12';
const ACCOUNT = '123456789012';

describe('task log links', () => {
  const arn = `arn:aws:ecs:eu-west-1:${ACCOUNT}:task/sluice/0f1e2d3c4b5a69788796a5b4c3d2e1f0`;

  it('names the awslogs stream <prefix>/<container>/<task-id>', () => {
    expect(taskLogStreamName(RUN, arn)).toBe(`${RUN}/algorithm/0f1e2d3c4b5a69788796a5b4c3d2e1f0`);
  });

  it('links an object in the S3 console of its partition, its key encoded', () => {
    expect(s3ObjectConsoleUrl({ region: 'eu-west-1', bucket: 'out', key: '_sluice/r 1/results.json' })).toBe(
      'https://eu-west-1.console.aws.amazon.com/s3/object/out?region=eu-west-1&prefix=_sluice%2Fr%201%2Fresults.json',
    );
    expect(s3ObjectConsoleUrl({ region: 'cn-north-1', bucket: 'out', key: 'k' })).toBe(
      'https://cn-north-1.console.amazonaws.cn/s3/object/out?region=cn-north-1&prefix=k',
    );
  });

  it('links the stream in the console and as an aws logs command', () => {
    expect(taskLogLink({ region: 'eu-west-1', runId: RUN, task: arn })).toEqual({
      logGroup: `/sluice/runs/${RUN}`,
      logStream: `${RUN}/algorithm/0f1e2d3c4b5a69788796a5b4c3d2e1f0`,
      consoleUrl:
        'https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/' +
        `$252Fsluice$252Fruns$252F${RUN}/log-events/${RUN}$252Falgorithm$252F0f1e2d3c4b5a69788796a5b4c3d2e1f0`,
      command: `aws logs get-log-events --region eu-west-1 --log-group-name '/sluice/runs/${RUN}' --log-stream-name '${RUN}/algorithm/0f1e2d3c4b5a69788796a5b4c3d2e1f0'`,
    });
  });
});
