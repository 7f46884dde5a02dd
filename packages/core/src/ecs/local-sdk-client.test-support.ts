// An AWS SDK client whose requests never leave the process: a middleware at the front of its stack
// answers each command by name and records it. One helper for the ECS and EC2 adapters' tests.

/** One command a local client was sent. */
export interface SentCommand {
  readonly command: string;
  readonly input: Record<string, unknown>;
}

/** What every SDK v3 client has: a middleware stack that takes an initialize-step middleware. */
interface WithMiddleware {
  readonly middlewareStack: {
    add(
      middleware: (
        next: unknown,
        context: { readonly commandName?: string },
      ) => (args: { readonly input: unknown }) => Promise<{ output: never; response: unknown }>,
      options: { step: 'initialize'; name: string },
    ): void;
  };
}

/**
 * Makes `client` answer locally: `respond` gets each command's name and input and returns its output
 * (or throws, as the service would).
 *
 * @example
 * const { client, calls } = answeringLocally(new ECSClient(FAKE_CLIENT_CONFIG), (command) => ({}));
 */
export function answeringLocally<C>(
  client: C,
  respond: (command: string, input: Record<string, unknown>) => unknown,
): { client: C; calls: SentCommand[] } {
  const calls: SentCommand[] = [];
  (client as unknown as WithMiddleware).middlewareStack.add(
    (_next, context) => async (args) => {
      const input = { ...(args.input as Record<string, unknown>) };
      calls.push({ command: context.commandName ?? '', input });
      const output = await Promise.resolve(respond(context.commandName ?? '', input));
      return { output: output as never, response: {} };
    },
    { step: 'initialize', name: 'answeringLocally' },
  );
  return { client, calls };
}

/** A region and dummy credentials: enough for a client that never sends a request. */
export const FAKE_CLIENT_CONFIG = {
  region: 'eu-west-1',
  credentials: { accessKeyId: 'fake', secretAccessKey: 'fake' },
};
