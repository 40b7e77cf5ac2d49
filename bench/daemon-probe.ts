// A daemon under measurement: started in the foreground with the node flags
// its installed wrapper passes, asked over its control socket, and read from
// /proc (resident memory, CPU time). Shared by the daemon and extents sections.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { sendControl } from '../src/daemon/control-client';
import { DAEMON_NODE_FLAGS, daemonEnv } from '../src/cli/node-flags';
import { controlSocketPath } from '../src/daemon/socket-path';
import type { ControlRequest, DaemonStatus } from '../src/daemon/protocol';

const CLI = path.resolve(__dirname, '..', 'src', 'cli');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function procStatus(pid: number): { rss: number; hwm: number } {
  const t = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(t)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  return Number(r.stdout.trim()) || 100;
})();

/** utime + stime of a process and all its threads, in seconds. */
export function cpuSeconds(pid: number): number {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

export async function control(root: string, req: ControlRequest): Promise<DaemonStatus> {
  const r = await sendControl(controlSocketPath(root), req, 30_000);
  if (!r.ok) throw new Error(r.error);
  return r.status;
}

export interface Daemon {
  child: ChildProcess;
  pid: number;
  stop: () => Promise<void>;
}

export async function startDaemon(root: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Daemon> {
  // The node flags and environment the installed wrapper and a detaching start give the daemon.
  const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, path.join(CLI, 'dfs-scrubd.js'), 'start', '--pool', root, '--foreground', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...daemonEnv(process.env), NOTIFY_SOCKET: '', INVOCATION_ID: '', ...env },
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-4000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const until = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`daemon exited ${child.exitCode}: ${err}`);
    try {
      if ((await control(root, { cmd: 'status' })).pid === child.pid) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > until) throw new Error(`daemon not ready: ${err}`);
    await sleep(50);
  }
  return {
    child,
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

