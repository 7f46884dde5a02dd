// An in-memory stand-in for @actions/core, for tests of action-kit and the actions. Its types are
// written out here rather than imported from @sluice/action-kit: action-kit's own tests use it, and
// an import the other way would make the two projects depend on each other (nx refuses the cycle).
// TypeScript compares shapes, so a MemoryToolkit is accepted wherever an ActionsToolkit is, and a
// method added to ActionsToolkit fails those tests' type check until it is added here too.

/** Annotation placement, the same shape as action-kit's `AnnotationProperties`. */
export interface MemoryAnnotationProperties {
  readonly title?: string;
  readonly file?: string;
  readonly startLine?: number;
}

/** One line an in-memory toolkit recorded. */
export interface RecordedMessage {
  readonly level: 'debug' | 'info' | 'notice' | 'warning' | 'error' | 'failed';
  readonly message: string;
  readonly properties?: MemoryAnnotationProperties;
}

/** An in-memory toolkit: inputs and state go in, outputs, state, secrets and messages come out. */
export interface MemoryToolkit {
  readonly outputs: Map<string, string>;
  readonly state: Map<string, string>;
  readonly secrets: string[];
  readonly messages: RecordedMessage[];
  /** Markdown appended to the job summary, one entry per call. */
  readonly summaries: string[];
  /** The message given to `setFailed`, if it was called. */
  failure(): string | undefined;
  getInput(name: string): string;
  setOutput(name: string, value: string): void;
  setFailed(message: string): void;
  error(message: string, properties?: MemoryAnnotationProperties): void;
  warning(message: string, properties?: MemoryAnnotationProperties): void;
  notice(message: string, properties?: MemoryAnnotationProperties): void;
  info(message: string): void;
  debug(message: string): void;
  setSecret(value: string): void;
  saveState(name: string, value: string): void;
  getState(name: string): string;
  appendSummary(markdown: string): Promise<void>;
}

/**
 * Creates an in-memory toolkit that action-kit and the actions accept as their `ActionsToolkit`.
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
    properties?: MemoryAnnotationProperties,
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
