/** The sluice version; version.test.ts keeps it equal to package.json's (one version for the suite). */
export const VERSION = '0.1.0';

/** The oldest Node the CLI runs on (package.json `engines`); wrapped images carry their own Node 24. */
export const MIN_NODE_MAJOR = 20;

/**
 * Why the CLI cannot run on this Node, or undefined when it can.
 *
 * @example
 * unsupportedNode('18.19.0'); // 'sluice needs Node 20 or newer; this is Node 18.19.0. …'
 * @throws never.
 */
export function unsupportedNode(version: string): string | undefined {
  const major = Number.parseInt(version.split('.')[0] ?? '', 10);
  if (major >= MIN_NODE_MAJOR) return undefined;
  return (
    `sluice needs Node ${MIN_NODE_MAJOR} or newer; this is Node ${version}. Install a current LTS ` +
    '(Node 24). The algorithm images sluice builds carry their own Node 24 whatever runs the CLI.'
  );
}
