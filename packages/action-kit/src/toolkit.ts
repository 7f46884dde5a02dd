import * as actionsCore from '@actions/core';

/** Annotation placement, as GitHub reads it (a subset of `@actions/core`'s `AnnotationProperties`). */
export interface AnnotationProperties {
  readonly title?: string;
  readonly file?: string;
  readonly startLine?: number;
}

/**
 * The part of `@actions/core` that sluice's actions use. Everything in action-kit takes one of these
 * (defaulting to the real module), so unit tests pass an in-memory one instead of touching
 * `process.env`, stdout and the runner's command files.
 */
export interface ActionsToolkit {
  getInput(name: string): string;
  setOutput(name: string, value: string): void;
  setFailed(message: string): void;
  error(message: string, properties?: AnnotationProperties): void;
  warning(message: string, properties?: AnnotationProperties): void;
  notice(message: string, properties?: AnnotationProperties): void;
  info(message: string): void;
  debug(message: string): void;
  setSecret(value: string): void;
  saveState(name: string, value: string): void;
  getState(name: string): string;
  /**
   * Appends Markdown to the job summary (`$GITHUB_STEP_SUMMARY`).
   * @throws when the runner gave no summary file (outside GitHub Actions).
   */
  appendSummary(markdown: string): Promise<void>;
}

/** The real toolkit: `@actions/core` as the GitHub runner drives it. */
export const actionsToolkit: ActionsToolkit = {
  // Untrimmed here: the input readers trim, and so see exactly what the workflow gave.
  getInput: (name) => actionsCore.getInput(name, { trimWhitespace: false }),
  setOutput: (name, value) => {
    actionsCore.setOutput(name, value);
  },
  setFailed: (message) => {
    actionsCore.setFailed(message);
  },
  error: (message, properties) => {
    actionsCore.error(message, properties === undefined ? undefined : { ...properties });
  },
  warning: (message, properties) => {
    actionsCore.warning(message, properties === undefined ? undefined : { ...properties });
  },
  notice: (message, properties) => {
    actionsCore.notice(message, properties === undefined ? undefined : { ...properties });
  },
  info: (message) => {
    actionsCore.info(message);
  },
  debug: (message) => {
    actionsCore.debug(message);
  },
  setSecret: (value) => {
    actionsCore.setSecret(value);
  },
  saveState: (name, value) => {
    actionsCore.saveState(name, value);
  },
  getState: (name) => actionsCore.getState(name),
  appendSummary: async (markdown) => {
    await actionsCore.summary.addRaw(markdown, true).write();
  },
};
