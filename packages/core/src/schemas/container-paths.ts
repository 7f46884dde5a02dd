// The manifest's `input` and `output` are container paths the runner empties before and after every
// task. So they must be clean absolute paths, must stay out of what the kernel and the runner own
// (emptying /tmp deleted the runner's own work directory and it hung), and must not hold each other.

/** The runner's temporary directory inside the wrapped image (`os.tmpdir()` there). */
const RUNNER_TEMP = '/tmp';
/** How the runner's work directory under {@link RUNNER_TEMP} starts (runner/src/assemble.ts). */
const RUNNER_WORK_PREFIX = 'sluice-runner-';

/** Top-level directories whose whole tree belongs to the kernel or the runner. */
const RESERVED_TREES: Readonly<Record<string, string>> = {
  proc: "the kernel's view of the processes",
  sys: "the kernel's view of devices and drivers",
  dev: "the kernel's device files",
  sluice: 'the runner itself in the wrapped image (its code, its Node runtime, the manifest)',
};

/** The non-empty segments of an absolute path: `//data//in/` → `['data', 'in']`. */
function segmentsOf(path: string): string[] {
  return path.split('/').filter((segment) => segment !== '');
}

/** Why a container path is refused, and how to fix it. */
export interface ContainerPathRefusal {
  readonly message: string;
  readonly hint: string;
}

const SHAPE_HINT = 'Write an absolute path; end it with "/" for a directory, without "/" it names one file';
const OWN_HINT = 'Give the algorithm a directory of its own, such as "/data/in/" and "/data/out/"';

/**
 * Why a container path is refused on its own, or undefined when it is fine: not absolute, `.`/`..`
 * segments, NUL, the root, or a place the kernel or the runner owns (`/proc`, `/sys`, `/dev`,
 * `/sluice` and what lies under them; `/tmp` itself and the runner's work directories in it).
 *
 * @example
 * containerPathProblem('/data/in/'); // undefined
 * containerPathProblem('/tmp/')?.message; // 'must not be /tmp, the runner\'s temporary directory: …'
 */
export function containerPathProblem(path: string): ContainerPathRefusal | undefined {
  const shape = (message: string): ContainerPathRefusal => ({ message, hint: SHAPE_HINT });
  const owned = (message: string): ContainerPathRefusal => ({ message, hint: OWN_HINT });
  if (path.includes('\u0000')) return shape('must not contain a NUL character');
  if (!path.startsWith('/')) return shape('must be an absolute container path (starting with "/")');
  if (path.split('/').some((segment) => segment === '..' || segment === '.')) {
    return shape('must not contain "." or ".." segments');
  }
  const [top, next] = segmentsOf(path);
  if (top === undefined) return owned('must not be the root directory');
  const owner = RESERVED_TREES[top];
  if (owner !== undefined) {
    return owned(
      `must not be /${top} or lie under it: that is ${owner}, and the runner empties the input and output before every task`,
    );
  }
  if (`/${top}` === RUNNER_TEMP && next === undefined) {
    return owned(
      `must not be ${RUNNER_TEMP}, the runner's temporary directory: the runner empties the input and output before every task, which would delete its own work directory there`,
    );
  }
  if (`/${top}` === RUNNER_TEMP && next?.startsWith(RUNNER_WORK_PREFIX) === true) {
    return owned(
      `must not lie under ${RUNNER_TEMP}/${RUNNER_WORK_PREFIX}…, the runner's work directories (its task logs)`,
    );
  }
  return undefined;
}

/** Whether the path `outer` is `inner` or one of its ancestors, segment by segment. */
export function holdsPath(outer: string, inner: string): boolean {
  const outerSegments = segmentsOf(outer);
  const innerSegments = segmentsOf(inner);
  return (
    outerSegments.length <= innerSegments.length &&
    outerSegments.every((segment, index) => innerSegments[index] === segment)
  );
}
