import { InputError } from './errors.js';
import { actionsToolkit, type ActionsToolkit } from './toolkit.js';

/** The spellings YAML 1.2 (and so `core.getBooleanInput`) accepts for a boolean. */
const TRUE_WORDS: readonly string[] = ['true', 'True', 'TRUE'];
const FALSE_WORDS: readonly string[] = ['false', 'False', 'FALSE'];
/** Long values are cut in messages: enough to recognise, not a wall of text. */
const SHOWN_LENGTH = 60;

/** Bounds for {@link InputReader.integer}. */
export interface IntegerBounds {
  readonly min?: number;
  readonly max?: number;
}

/**
 * Typed readers of action inputs. Each trims the value, treats an empty one as not given, and
 * throws an {@link InputError} (a user error) naming the input, what it accepts and what was found.
 */
export interface InputReader {
  /**
   * @throws {InputError} when the input is empty or not given.
   */
  requiredString(name: string): string;
  /** The trimmed value, or `undefined` when empty or not given. */
  optionalString(name: string): string | undefined;
  /**
   * `fallback` when not given; otherwise one of true/True/TRUE/false/False/FALSE.
   * @throws {InputError} for any other value.
   */
  boolean(name: string, fallback: boolean): boolean;
  /**
   * A whole number within `bounds`, or `undefined` when not given.
   * @throws {InputError} for anything else (fractions, units, out of bounds).
   */
  integer(name: string, bounds?: IntegerBounds): number | undefined;
  /**
   * One of `choices` (exact spelling), or `undefined` when not given.
   * @throws {InputError} for any other value.
   */
  choice<const C extends string>(name: string, choices: readonly C[]): C | undefined;
}

function shown(value: string): string {
  const cut = value.length > SHOWN_LENGTH ? `${value.slice(0, SHOWN_LENGTH)}…` : value;
  return JSON.stringify(cut);
}

function invalid(name: string, accepts: string, value: string): InputError {
  return new InputError(
    name,
    `Input \`${name}\` must be ${accepts}; found ${shown(value)}. Fix it in the step's \`with:\` block.`,
  );
}

/**
 * Creates an {@link InputReader} over the given toolkit (the real `@actions/core` by default).
 *
 * @example
 * const input = createInputReader();
 * const push = input.boolean('push', true);
 * const backend = input.choice('backend', ['local', 'ecs']);
 * @throws {InputError} from its readers, never from creation.
 */
export function createInputReader(toolkit: ActionsToolkit = actionsToolkit): InputReader {
  const read = (name: string): string | undefined => {
    const value = toolkit.getInput(name).trim();
    return value === '' ? undefined : value;
  };
  return {
    requiredString(name) {
      const value = read(name);
      if (value === undefined) {
        throw new InputError(
          name,
          `Input \`${name}\` is required but was not given. Add \`${name}: ...\` to the step's \`with:\` block.`,
        );
      }
      return value;
    },
    optionalString: read,
    boolean(name, fallback) {
      const value = read(name);
      if (value === undefined) return fallback;
      if (TRUE_WORDS.includes(value)) return true;
      if (FALSE_WORDS.includes(value)) return false;
      throw invalid(name, `a boolean: one of ${[...TRUE_WORDS, ...FALSE_WORDS].join(', ')}`, value);
    },
    integer(name, bounds = {}) {
      const value = read(name);
      if (value === undefined) return undefined;
      const { min, max } = bounds;
      const range = [
        min !== undefined ? `>= ${min}` : undefined,
        max !== undefined ? `<= ${max}` : undefined,
      ].filter((part): part is string => part !== undefined);
      const accepts = `a whole number${range.length > 0 ? ` ${range.join(' and ')}` : ''}`;
      if (!/^[+-]?\d+$/.test(value)) throw invalid(name, accepts, value);
      const number = Number(value);
      if (!Number.isSafeInteger(number)) throw invalid(name, accepts, value);
      if ((min !== undefined && number < min) || (max !== undefined && number > max)) {
        throw invalid(name, accepts, value);
      }
      return number;
    },
    choice(name, choices) {
      const value = read(name);
      if (value === undefined) return undefined;
      const match = choices.find((choice) => choice === value);
      if (match === undefined) throw invalid(name, `one of ${choices.join(', ')}`, value);
      return match;
    },
  };
}
