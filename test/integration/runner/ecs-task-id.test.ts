// ecsTaskId against a stand-in for ECS's task metadata endpoint on a loopback port.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { ecsSiblingsBusy, ecsTaskId } from '../../../packages/runner/src/config/settings.js';

describe('ecsTaskId: the worker id of a runner on ECS', () => {
  let server: Server;
  let endpoint = '';
  let answer: { status: number; body: string } = { status: 200, body: '{}' };
  let container: { status: number; body: string } = { status: 404, body: '{}' };

  beforeAll(async () => {
    // Stands in for ECS's task metadata endpoint (v4), which answers GET <uri>/task with the task and
    // GET <uri> with the container's own metadata.
    server = createServer((request, response) => {
      const reply =
        request.url === '/v4/abc/task'
          ? answer
          : request.url === '/v4/abc'
            ? container
            : { status: 404, body: '{}' };
      response.writeHead(reply.status, { 'content-type': 'application/json' });
      response.end(reply.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v4/abc`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('is the id at the end of the task ARN the metadata endpoint gives', async () => {
    answer = {
      status: 200,
      body: JSON.stringify({ TaskARN: 'arn:aws:ecs:eu-west-1:123456789012:task/sluice/0f1e2d3c4b5a' }),
    };
    expect(await ecsTaskId({ ECS_CONTAINER_METADATA_URI_V4: endpoint })).toBe('0f1e2d3c4b5a');
  });

  it('names the runner container of a worker running several tasks, beside the task id', async () => {
    answer = {
      status: 200,
      body: JSON.stringify({ TaskARN: 'arn:aws:ecs:eu-west-1:123456789012:task/sluice/0f1e2d3c4b5a' }),
    };
    container = { status: 200, body: JSON.stringify({ Name: 'algorithm-2' }) };
    expect(await ecsTaskId({ ECS_CONTAINER_METADATA_URI_V4: endpoint })).toBe('0f1e2d3c4b5a/algorithm-2');
    container = { status: 200, body: JSON.stringify({ Name: 'algorithm' }) };
    expect(await ecsTaskId({ ECS_CONTAINER_METADATA_URI_V4: endpoint })).toBe('0f1e2d3c4b5a');
    container = { status: 404, body: '{}' };
  });

  it('lets the first runner container of a worker see whether its siblings still run', async () => {
    const task = (statuses: Record<string, string>) =>
      JSON.stringify({
        TaskARN: 'arn:aws:ecs:eu-west-1:123456789012:task/sluice/0f1e2d3c4b5a',
        Containers: Object.entries(statuses).map(([Name, KnownStatus]) => ({ Name, KnownStatus })),
      });
    container = { status: 200, body: JSON.stringify({ Name: 'algorithm' }) };
    const busy = await ecsSiblingsBusy({ ECS_CONTAINER_METADATA_URI_V4: endpoint });

    answer = { status: 200, body: task({ algorithm: 'RUNNING', 'algorithm-2': 'RUNNING' }) };
    expect(await busy?.()).toBe(true);
    answer = { status: 200, body: task({ algorithm: 'RUNNING', 'algorithm-2': 'STOPPED' }) };
    expect(await busy?.()).toBe(false);
    answer = { status: 500, body: 'no' };
    expect(await busy?.()).toBe(false);

    // A sibling waits for no one (its exit leaves the task running), and off ECS there is nothing to see.
    container = { status: 200, body: JSON.stringify({ Name: 'algorithm-2' }) };
    expect(await ecsSiblingsBusy({ ECS_CONTAINER_METADATA_URI_V4: endpoint })).toBeUndefined();
    expect(await ecsSiblingsBusy({})).toBeUndefined();
    container = { status: 404, body: '{}' };
  });

  it('is undefined off ECS, and when the endpoint fails or says nothing useful', async () => {
    expect(await ecsTaskId({})).toBeUndefined();
    answer = { status: 500, body: 'no' };
    expect(await ecsTaskId({ ECS_CONTAINER_METADATA_URI_V4: endpoint })).toBeUndefined();
    answer = { status: 200, body: '{"Cluster":"sluice"}' };
    expect(await ecsTaskId({ ECS_CONTAINER_METADATA_URI_V4: endpoint })).toBeUndefined();
    expect(await ecsTaskId({ ECS_CONTAINER_METADATA_URI_V4: 'http://127.0.0.1:9/v4' })).toBeUndefined();
  });
});
