import { describe, expect, it } from '@jest/globals';

import { createActionsLogger } from './logger.js';
import { setOutputs } from './outputs.js';
import { createMemoryToolkit } from '@sluice/testing';

describe('actions logger', () => {
  it('writes each level through the toolkit and masks secrets', () => {
    const toolkit = createMemoryToolkit();
    const logger = createActionsLogger(toolkit);

    logger.debug('d');
    logger.info('i');
    logger.warning('w');
    logger.error('e');
    logger.setSecret('s3cr3t');
    logger.setSecret('');

    expect(toolkit.messages.map((m) => `${m.level}:${m.message}`)).toEqual([
      'debug:d',
      'info:i',
      'warning:w',
      'error:e',
    ]);
    expect(toolkit.secrets).toEqual(['s3cr3t']);
  });
});

describe('setOutputs', () => {
  it('writes every output as text', () => {
    const toolkit = createMemoryToolkit();

    setOutputs({ 'run-id': 'r-1', enqueued: 3, 'delete-data': false }, toolkit);

    expect(Object.fromEntries(toolkit.outputs)).toEqual({
      'run-id': 'r-1',
      enqueued: '3',
      'delete-data': 'false',
    });
  });
});
