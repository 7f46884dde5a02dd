/**
 * The exit status of every sluice command: scripts and CI tell a user's mistake (2) from sluice's own
 * failure (1), as the actions tell a ConfigurationError from a fault.
 */
export const ExitCode = {
  /** Done, and everything was valid. */
  ok: 0,
  /**
   * sluice itself failed (a fault, a bug, an unreachable service), or a run did not finish: also
   * when its runners keep dying while no task ends (a crash loop), which is the machine's or the
   * image's fault, never the input's.
   */
  fault: 1,
  /**
   * The user's input is wrong: an invalid or unreadable file, or a bad command line (also a runner
   * that stops on its configuration, which only the job or the manifest can fix).
   */
  invalid: 2,
  /** The user interrupted (Ctrl-C, SIGTERM): 128 + SIGINT, as shells report it. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
