// A CDI specification shaped like the one `nvidia-ctk cdi generate` writes, for tests of GPU
// detection on machines without a GPU: podman is never asked to use it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes `<dir>/nvidia.yaml`: an `nvidia.com/gpu` spec with one device per index (`0`, `1`, …), each
 * also named by a UUID, plus `all`, as nvidia-ctk names them. Returns the file's path.
 *
 * @example
 * writeFakeCdiSpec(dir, 2);
 * await detectLocalGpus({ kind: 'podman', gpu: 1, cdiDirectories: [dir] }); // { devices: ['0', '1'] }
 */
export function writeFakeCdiSpec(dir: string, gpus: number): string {
  const device = (name: string, index: number): string[] => [
    `- name: "${name}"`,
    '  containerEdits:',
    '    deviceNodes:',
    `    - path: /dev/nvidia${index}`,
  ];
  const lines = ['---', 'cdiVersion: 0.5.0', 'kind: nvidia.com/gpu', 'devices:'];
  for (let i = 0; i < gpus; i += 1) {
    lines.push(...device(String(i), i), ...device(`GPU-0000000${i}-1111-2222-3333-444444444444`, i));
  }
  lines.push(
    '- name: all',
    '  containerEdits:',
    '    deviceNodes:',
    ...Array.from({ length: gpus }, (_, i) => `    - path: /dev/nvidia${i}`),
    'containerEdits:',
    '  env:',
    '  - NVIDIA_VISIBLE_DEVICES=void',
    '  deviceNodes:',
    '  - path: /dev/nvidiactl',
    '',
  );
  const file = join(dir, 'nvidia.yaml');
  writeFileSync(file, lines.join('\n'));
  return file;
}
