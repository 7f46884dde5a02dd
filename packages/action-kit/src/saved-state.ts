import { SluiceError } from '@sluice/core';

import { actionsToolkit, type ActionsToolkit } from './toolkit.js';

/** A value the main step saves for its `post:` step, stored as JSON under one name. */
export interface SavedState<T> {
  /** Saves the value; the post step of the same action sees it. */
  save(value: T): void;
  /**
   * The saved value, or `undefined` when main saved nothing (for example, it failed before).
   * @throws {SluiceError} when something was saved but is not a valid `T` (a fault, not a user error).
   */
  load(): T | undefined;
}

/**
 * Defines typed state shared by an action's main and post steps (as aws-actions/configure-aws-credentials does). `isValid` checks
 * what comes back, because the state passes through the runner as text.
 *
 * @example
 * const created = defineSavedState('created', (v): v is { runId: string } =>
 *   typeof v === 'object' && v !== null && typeof (v as { runId?: unknown }).runId === 'string');
 * created.save({ runId });          // in main
 * const saved = created.load();     // in post
 * @throws never at definition; see {@link SavedState.load}.
 */
export function defineSavedState<T>(
  name: string,
  isValid: (value: unknown) => value is T,
  toolkit: ActionsToolkit = actionsToolkit,
): SavedState<T> {
  return {
    save(value) {
      toolkit.saveState(name, JSON.stringify(value));
    },
    load() {
      const text = toolkit.getState(name);
      if (text === '') return undefined;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (thrown) {
        throw new SluiceError(`saved state "${name}" is not JSON`, { cause: thrown });
      }
      if (!isValid(value)) throw new SluiceError(`saved state "${name}" does not have the expected shape`);
      return value;
    },
  };
}
