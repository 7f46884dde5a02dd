import { describe, expect, it } from '@jest/globals';

import {
  ProgressDisplay,
  formatBytes,
  formatDuration,
  renderRunProgress,
  renderUploadProgress,
} from './progress.js';

function sink(
  isTTY: boolean,
  columns?: number,
): { written: string[]; write: (text: string) => void; isTTY: boolean; columns?: number } {
  const written: string[] = [];
  return {
    written,
    write: (text) => {
      written.push(text);
    },
    isTTY,
    ...(columns !== undefined && { columns }),
  };
}

describe('progress renderers', () => {
  it('writes durations a person reads at a glance', () => {
    expect([850, 12_400, 185_000, 3_725_000].map(formatDuration)).toEqual(['850ms', '12s', '3m05s', '1h02m']);
  });

  it('writes sizes in powers of 1,000', () => {
    expect([512, 3400, 12_000_000].map(formatBytes)).toEqual(['512 B', '3.4 KB', '12.0 MB']);
  });

  it('shows the counts with no rate before any task finished', () => {
    expect(renderRunProgress({ done: 0, failed: 0, running: 2, queued: 58, total: 60 }, 5000)).toBe(
      '0 done, 0 failed, 2 running, 58 queued of 60',
    );
  });

  it('shows the rate of finished tasks and the time left for the rest', () => {
    // 20 finished in 10 s: 2 tasks/s; 40 left: 20 s.
    expect(renderRunProgress({ done: 18, failed: 2, running: 2, queued: 38, total: 60 }, 10_000)).toBe(
      '18 done, 2 failed, 2 running, 38 queued of 60 — 2.0 tasks/s, ETA 20s',
    );
  });

  it('estimates from running and queued tasks when the total is not known', () => {
    expect(renderRunProgress({ done: 10, failed: 0, running: 5, queued: 5 }, 10_000)).toBe(
      '10 done, 0 failed, 5 running, 5 queued — 1.0 tasks/s, ETA 10s',
    );
  });

  it('shows an upload by files and bytes, with the byte rate', () => {
    expect(
      renderUploadProgress({ files: 3, totalFiles: 6, bytes: 2_000_000, totalBytes: 6_000_000 }, 2000),
    ).toBe('uploading 3/6 files, 2.0 MB of 6.0 MB — 1.0 MB/s, ETA 4s');
  });
});

describe('ProgressDisplay on a terminal', () => {
  it('redraws one line in place, cut to the width', () => {
    const terminal = sink(true, 20);
    const display = new ProgressDisplay(terminal);

    display.update('3 done, 0 failed, 2 running, 10 queued');
    display.update('short');

    expect(terminal.written).toEqual(['\r\x1b[2K3 done, 0 failed, …', '\r\x1b[2Kshort']);
  });

  it('prints log lines above the live line and draws it again', () => {
    const terminal = sink(true);
    const display = new ProgressDisplay(terminal);

    display.update('1 done');
    display.log('warning: runner restarted');
    display.done();

    expect(terminal.written.join('')).toBe('\r\x1b[2K1 done\r\x1b[2Kwarning: runner restarted\n1 done\n');
  });

  it('replaces the live line with a final one', () => {
    const terminal = sink(true);
    const display = new ProgressDisplay(terminal);

    display.update('uploading 1/2 files');
    display.done('uploaded 2 file(s)');

    expect(terminal.written.join('')).toBe('\r\x1b[2Kuploading 1/2 files\r\x1b[2Kuploaded 2 file(s)\n');
  });
});

describe('ProgressDisplay in a log', () => {
  it('prints plain lines, only when what they say changed, at most every interval', () => {
    const log = sink(false);
    let now = 0;
    const display = new ProgressDisplay(log, {
      now: () => now,
      plainIntervalMs: 2000,
      plainHeartbeatMs: 30_000,
    });

    display.update('1 done — 1.0 tasks/s', { key: '1' });
    now = 500;
    display.update('2 done — 1.3 tasks/s', { key: '2' }); // too soon
    now = 2500;
    display.update('2 done — 0.8 tasks/s', { key: '2' });
    now = 5000;
    display.update('2 done — 0.4 tasks/s', { key: '2' }); // unchanged
    now = 33_000;
    display.update('2 done — 0.1 tasks/s', { key: '2' }); // heartbeat

    expect(log.written).toEqual([
      '1 done — 1.0 tasks/s\n',
      '2 done — 0.8 tasks/s\n',
      '2 done — 0.1 tasks/s\n',
    ]);
  });

  it('writes no control characters', () => {
    const log = sink(false);
    const display = new ProgressDisplay(log);

    display.update('1 done');
    display.log('a message');
    display.done('finished');

    expect(log.written.join('')).toBe('1 done\na message\nfinished\n');
  });
});
