// The sidecar's log lines, read back from a real pino destination (a file): the webhook's
// conventions (numeric level, epoch-ms time, pid, hostname, msg), the component, levels filtered.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../sidecar/src/log.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function fileLogger(level?: 'debug' | 'info') {
  const dir = await mkdtemp(join(tmpdir(), 'sidecar-log-'));
  dirs.push(dir);
  const file = join(dir, 'log');
  const log = createLogger({ destination: pino.destination({ dest: file, sync: true }), ...(level === undefined ? {} : { level }) });
  const lines = async () => (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
  return { log, lines };
}

describe('createLogger', () => {
  it('writes one JSON object per line, as the webhook does, with the fields given', async () => {
    const { log, lines } = await fileLogger();
    const before = Date.now();
    log.info('serving KubeVirt hook callbacks', { socket: '/var/run/kubevirt-hooks/vhostuser.sock', waitMs: 45_000 });
    log.warn('OnDefineDomain failed', { call: 1, status: 'INVALID_ARGUMENT', error: 'vmi: not JSON' });
    const [served, failed, ...rest] = await lines();
    expect(rest).toEqual([]);
    expect(served).toEqual({
      level: 30,
      time: expect.any(Number) as number,
      pid: process.pid,
      hostname: hostname(),
      component: 'hook-sidecar',
      socket: '/var/run/kubevirt-hooks/vhostuser.sock',
      waitMs: 45_000,
      msg: 'serving KubeVirt hook callbacks',
    });
    expect(served?.['time']).toBeGreaterThanOrEqual(before);
    expect(failed).toMatchObject({ level: 40, component: 'hook-sidecar', call: 1, status: 'INVALID_ARGUMENT', error: 'vmi: not JSON', msg: 'OnDefineDomain failed' });
  });

  it('drops entries below its level: info by default', async () => {
    const quiet = await fileLogger();
    quiet.log.debug('hidden');
    quiet.log.error('shown');
    expect((await quiet.lines()).map((l) => [l['level'], l['msg']])).toEqual([[50, 'shown']]);
    const verbose = await fileLogger('debug');
    verbose.log.debug('shown');
    expect((await verbose.lines()).map((l) => [l['level'], l['msg']])).toEqual([[20, 'shown']]);
  });

  it('keeps an Error field\'s message, and survives a circular field', async () => {
    const { log, lines } = await fileLogger();
    const circular: Record<string, unknown> = { name: 'x' };
    circular['self'] = circular;
    log.warn('could not remove the socket', { error: new Error('EACCES: permission denied'), circular });
    const [line] = await lines();
    expect(line?.['error']).toMatchObject({ type: 'Error', message: 'EACCES: permission denied' });
    expect(line?.['circular']).toEqual({ name: 'x', self: '[Circular]' });
  });
});
