import type { Logger } from '@sluice/core';

import { actionsToolkit, type ActionsToolkit } from './toolkit.js';

/**
 * A core {@link Logger} that writes through `@actions/core`: warnings and errors become
 * annotations, and `setSecret` masks the value in the rest of the job's log.
 *
 * @example
 * const logger = createActionsLogger();
 * logger.setSecret(token); // later output shows *** instead
 * await provision(job, { logger });
 */
export function createActionsLogger(toolkit: ActionsToolkit = actionsToolkit): Logger {
  return {
    debug: (message) => {
      toolkit.debug(message);
    },
    info: (message) => {
      toolkit.info(message);
    },
    warning: (message) => {
      toolkit.warning(message);
    },
    error: (message) => {
      toolkit.error(message);
    },
    setSecret: (value) => {
      // An empty secret would mask nothing useful and make the runner print warnings.
      if (value !== '') toolkit.setSecret(value);
    },
  };
}
