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

/** One line an in-memory toolkit recorded. */
export interface RecordedMessage {
  readonly level: 'debug' | 'info' | 'notice' | 'warning' | 'error' | 'failed';
  readonly message: string;
  readonly properties?: AnnotationProperties;
}

/** An in-memory toolkit: inputs and state go in, outputs, state, secrets and messages come out. */
export interface MemoryToolkit extends ActionsToolkit {
  readonly outputs: Map<string, string>;
  readonly state: Map<string, string>;
  readonly secrets: string[];
  readonly messages: RecordedMessage[];
  /** Markdown appended to the job summary, one entry per call. */
  readonly summaries: string[];
  /** The message given to `setFailed`, if it was called. */
  failure(): string | undefined;
}

/**
 * Creates an in-memory {@link ActionsToolkit}. It lives here, not in `@sluice/testing`, because the
 * testing package may depend on core only; it is also what a local dry run of an action would use.
 *
 * @example
 * const toolkit = createMemoryToolkit({ inputs: { job: 'job.json' } });
 * await runAction(() => main(toolkit), undefined, toolkit);
 * expect(toolkit.failure()).toBeUndefined();
 */
export function createMemoryToolkit(
  seed: { inputs?: Readonly<Record<string, string>>; state?: Readonly<Record<string, string>> } = {},
): MemoryToolkit {
  const inputs = new Map(Object.entries(seed.inputs ?? {}));
  const outputs = new Map<string, string>();
  const state = new Map(Object.entries(seed.state ?? {}));
  const secrets: string[] = [];
  const messages: RecordedMessage[] = [];
  const summaries: string[] = [];
  const record = (
    level: RecordedMessage['level'],
    message: string,
    properties?: AnnotationProperties,
  ): void => {
    messages.push(properties === undefined ? { level, message } : { level, message, properties });
  };
  return {
    outputs,
    state,
    secrets,
    messages,
    summaries,
    failure: () => messages.find((m) => m.level === 'failed')?.message,
    getInput: (name) => inputs.get(name) ?? '',
    setOutput: (name, value) => outputs.set(name, value),
    setFailed: (message) => {
      record('failed', message);
    },
    error: (message, properties) => {
      record('error', message, properties);
    },
    warning: (message, properties) => {
      record('warning', message, properties);
    },
    notice: (message, properties) => {
      record('notice', message, properties);
    },
    info: (message) => {
      record('info', message);
    },
    debug: (message) => {
      record('debug', message);
    },
    setSecret: (value) => {
      secrets.push(value);
    },
    saveState: (name, value) => state.set(name, value),
    getState: (name) => state.get(name) ?? '',
    appendSummary: (markdown) => {
      summaries.push(markdown);
      return Promise.resolve();
    },
  };
}
