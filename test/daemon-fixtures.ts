// Shared by the dfs-scrubd tests (test/daemon-*.test.ts, test/torture-daemon.test.ts)
// and bench/daemon.ts: pools with known content, damage by hand, daemons that
// are always reaped, the daemon's status read straight off its socket, and a
// notify socket like systemd's.
//
// Every daemon a test starts is recorded; whatever is still alive when the test
// process ends (even on the runner's SIGTERM) is killed by PID, and only if its
// command line is still ours: a detached daemon is in its own session, so the
// runner's process-group kill would not reach it.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { cli, cliAsync, CliResult, collect, scratchDir } from './helpers';
import { NoDaemon, sendControl } from '../src/daemon/control-client';
import { controlSocketPath } from '../src/daemon/socket-path';
import type { ControlRequest, DaemonStatus } from '../src/daemon/protocol';
import { HEADER_SIZE } from '../src/core/shard-header';

// ---------------------------------------------------------------------------
// Reaping

const ours = new Set<number>();

function isOurDaemon(pid: number): boolean {
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmd.includes('dfs-scrubd') || cmd.includes('dynamicfs');
  } catch {
    return false;
  }
}

/** Kills (SIGKILL) every daemon this process started that is still alive. */
export function reapDaemons(): void {
  for (const pid of ours) {
    if (isOurDaemon(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  ours.clear();
}

/** Remembers a daemon PID to kill at exit if the test does not stop it. */
export function own(pid: number): number {
  if (Number.isInteger(pid) && pid > 0) ours.add(pid);
  return pid;
}

process.on('exit', reapDaemons);
// Registered before helpers installs its own handlers (it does so lazily), and
// `once`, so that its re-raised signal still kills the process.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, reapDaemons);

// ---------------------------------------------------------------------------
// Small utilities

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers kill(0): look at its state.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Polls `probe` until it returns a truthy value; fails the test with `what` after timeoutMs. */
export async function waitFor<T>(what: string, probe: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) assert.unreachable(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------------------
// Pools

export interface TestPool {
  root: string;
  /** Scratch directory holding the pool, the source files and fake PSI files. */
  dir: string;
  /** Object name -> the file it was stored from. */
  objects: Map<string, string>;
  /** A fake /proc/pressure/io (avg10 0.00) for DFS_PSI_IO_FILE: tests must not depend on the host's real I/O pressure. */
  psi: string;
}

export interface PoolSpec {
  disks?: number;
  redundancy?: string;
  extentSize?: string;
  /** Objects to store: bytes each, optional per-object scheme. */
  objects: { name: string; bytes: number; redundancy?: string }[];
  /** Parent directory (default: a fresh scratch directory). */
  dir?: string;
  /** Name of the pool directory inside dir (default 'pool'). */
  name?: string;
}

export function makePool(spec: PoolSpec): TestPool {
  const dir = spec.dir ?? scratchDir('dfs-daemon-');
  const root = path.join(dir, spec.name ?? 'pool');
  const c = cli('dfs-pool', ['create', '--pool', root, '--disks', String(spec.disks ?? 6), '--redundancy', spec.redundancy ?? 'rs:4+2', '--extent-size', spec.extentSize ?? '16K']);
  assert.is(c.status, 0, `dfs-pool create: ${c.stderr}`);
  const objects = new Map<string, string>();
  const src = path.join(dir, 'src');
  fs.mkdirSync(src, { recursive: true });
  for (const o of spec.objects) {
    const file = path.join(src, o.name);
    fs.writeFileSync(file, randomBytes(o.bytes));
    const args = ['put', file, o.name, '--pool', root];
    if (o.redundancy) args.push('--redundancy', o.redundancy);
    const r = cli('dfs-pool', args);
    assert.is(r.status, 0, `dfs-pool put ${o.name}: ${r.stderr}`);
    objects.set(o.name, file);
  }
  const psi = path.join(dir, 'psi-io');
  writePsi(psi, 0);
  return { root, dir, objects, psi };
}

/** Writes a file in /proc/pressure/io's format with the given "some avg10". */
export function writePsi(file: string, some10: number): void {
  const tmp = `${file}.new`;
  fs.writeFileSync(tmp, `some avg10=${some10.toFixed(2)} avg60=${some10.toFixed(2)} avg300=${some10.toFixed(2)} total=123456\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n`);
  fs.renameSync(tmp, file);
}

/** Disk directories of a pool, absolute. */
export function diskDirs(root: string): string[] {
  const cfg = JSON.parse(fs.readFileSync(path.join(root, 'pool.json'), 'utf8')) as { disks: { path: string }[] };
  return cfg.disks.map((d) => path.resolve(root, d.path));
}

/** Every shard file by extent id: index -> path. */
export function shardsByExtent(root: string): Map<string, Map<number, string>> {
  const out = new Map<string, Map<number, string>>();
  for (const disk of diskDirs(root)) {
    const ext = path.join(disk, 'extents');
    if (!fs.existsSync(ext)) continue;
    for (const fan of fs.readdirSync(ext)) {
      for (const f of fs.readdirSync(path.join(ext, fan))) {
        const m = /^([0-9a-f]{64})\.(\d+)$/.exec(f);
        if (!m) continue;
        if (!out.has(m[1])) out.set(m[1], new Map());
        out.get(m[1])!.set(Number(m[2]), path.join(ext, fan, f));
      }
    }
  }
  return out;
}

/** Files anywhere under dir whose name starts with `.tmp-` (temp files of atomic writes). */
export function tempFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.name.startsWith('.tmp-') || /\.tmp$|\.stale-\d+$/.test(e.name)) out.push(p);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

/** Flips one byte of a shard's payload (never the 128-byte header). */
export function flipPayloadByte(file: string): void {
  const size = fs.statSync(file).size;
  assert.ok(size > HEADER_SIZE + 1, `${file} has no payload to damage`);
  const at = HEADER_SIZE + 1 + randomInt(size - HEADER_SIZE - 1);
  const fd = fs.openSync(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, at);
    b[0] ^= 0x5a;
    fs.writeSync(fd, b, 0, 1, at);
  } finally {
    fs.closeSync(fd);
  }
}

// ---------------------------------------------------------------------------
// State files

export interface PersistedState {
  counters: DaemonStatus['counters'];
  current?: { id: string; cursor: string; extentsDone: number; extentsTotal: number; bytesDone: number; issuesFound: number; repairsSuccessful: number; mode: string };
  lastPass?: { id: string; startedAt: string; finishedAt: string; outcome: string; extentsScanned: number; issuesFound: number; repairsSuccessful: number; exitCode: number };
}

export const stateFile = (root: string) => path.join(root, '.dynamicfs', 'scrub-state.json');
export const settingsFile = (root: string) => path.join(root, '.dynamicfs', 'daemon-settings.json');
export const lockFile = (root: string) => path.join(root, '.dynamicfs', 'scrub.lock');
export const logFile = (root: string) => path.join(root, '.dynamicfs', 'scrubd.log');

export function readState(root: string): PersistedState | undefined {
  try {
    return JSON.parse(fs.readFileSync(stateFile(root), 'utf8')) as PersistedState;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export function lockPid(root: string): number | undefined {
  try {
    return (JSON.parse(fs.readFileSync(lockFile(root), 'utf8')) as { pid: number }).pid;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// Talking to daemons

/** The daemon's live status straight from its socket (no CLI start-up cost); undefined when none serves. */
export async function liveStatus(root: string, env: NodeJS.ProcessEnv = process.env): Promise<DaemonStatus | undefined> {
  return control(root, { cmd: 'status' }, env);
}

export async function control(root: string, req: ControlRequest, env: NodeJS.ProcessEnv = process.env): Promise<DaemonStatus | undefined> {
  const saved = process.env.RUNTIME_DIRECTORY;
  // The socket path may depend on RUNTIME_DIRECTORY (long pool paths).
  if (env.RUNTIME_DIRECTORY !== undefined) process.env.RUNTIME_DIRECTORY = env.RUNTIME_DIRECTORY;
  let sock: string;
  try {
    sock = controlSocketPath(root);
  } finally {
    if (saved === undefined) delete process.env.RUNTIME_DIRECTORY;
    else process.env.RUNTIME_DIRECTORY = saved;
  }
  try {
    const r = await sendControl(sock, req, 5000);
    if (!r.ok) throw new Error(`daemon refused ${req.cmd}: ${r.error}`);
    return r.status;
  } catch (err) {
    if (err instanceof NoDaemon) return undefined;
    throw err;
  }
}

/** Environment for daemons in tests: a fake, quiet PSI file unless the test says otherwise. */
export function daemonEnv(pool: TestPool, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return { DFS_PSI_IO_FILE: pool.psi, NOTIFY_SOCKET: undefined, INVOCATION_ID: undefined, WATCHDOG_USEC: undefined, WATCHDOG_PID: undefined, ...extra };
}

export interface Started {
  pid: number;
  result: CliResult;
  ms: number;
}

/** `dfs-scrubd start` from a "shell": detaches, prints the PID. */
export function startDetached(pool: TestPool, args: string[] = [], env: Record<string, string | undefined> = {}, prog = 'dfs-scrubd'): Started {
  const t0 = Date.now();
  const argv = prog === 'dynamicfs' ? ['scrub-daemon', 'start', '--pool', pool.root, ...args] : ['start', '--pool', pool.root, ...args];
  const result = cli(prog, argv, { env: daemonEnv(pool, env), timeout: 60_000 });
  const ms = Date.now() - t0;
  const pid = Number(result.stdout.trim());
  if (result.status === 0 && Number.isInteger(pid)) own(pid);
  return { pid, result, ms };
}

export interface Foreground {
  child: ChildProcess;
  /** Resolves when the process ends. */
  done: Promise<{ status: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: string }>;
  stderr: () => string;
}

/** `dfs-scrubd start --foreground` as a child of the test. */
export function startForeground(pool: TestPool, args: string[] = [], env: Record<string, string | undefined> = {}, foregroundFlag = true, prog = 'dfs-scrubd'): Foreground {
  const argv = [...(prog === 'dynamicfs' ? ['scrub-daemon'] : []), 'start', '--pool', pool.root, ...args, ...(foregroundFlag ? ['--foreground'] : [])];
  const child = cliAsync(prog, argv, { env: daemonEnv(pool, env) });
  own(child.pid!);
  let stdout = '', stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const done = new Promise<{ status: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: string }>((resolve) => {
    child.once('close', (status, signal) => resolve({ status, signal, stderr, stdout }));
  });
  return { child, done, stderr: () => stderr };
}

/** Waits until the daemon with this PID answers on the pool's socket. */
export async function waitReady(pool: TestPool, pid: number, timeoutMs = 20_000, env: NodeJS.ProcessEnv = process.env): Promise<DaemonStatus> {
  return waitFor(`daemon PID ${pid} serving ${pool.root}`, async () => {
    const s = await liveStatus(pool.root, env);
    return s && s.pid === pid ? s : undefined;
  }, timeoutMs);
}

/** Waits for a process to be dead (a zombie counts as dead). */
export async function waitGone(pid: number, timeoutMs = 20_000): Promise<void> {
  await waitFor(`PID ${pid} to exit`, () => !pidAlive(pid), timeoutMs, 25);
}

/** Waits for a process to be dead and reaped: no /proc entry at all, not even a zombie. */
export async function waitReaped(pid: number, timeoutMs = 20_000): Promise<void> {
  await waitFor(`PID ${pid} to be reaped`, () => !fs.existsSync(`/proc/${pid}`), timeoutMs, 25);
}

/** Runs a built executable without blocking the event loop (so our own children get reaped meanwhile). */
export function cliBackground(name: string, args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return collect(cliAsync(name, args, { env }));
}

/** Stops the pool's daemon with the stop verb, if one runs. */
export function stopDaemon(pool: TestPool, env: Record<string, string | undefined> = {}): CliResult {
  return cli('dfs-scrubd', ['stop', '--pool', pool.root], { env: daemonEnv(pool, env), timeout: 60_000 });
}

/** Waits for a foreground daemon to exit after a signal. */
export async function signalAndWait(fg: Foreground, sig: NodeJS.Signals, timeoutMs = 20_000): Promise<{ status: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  fg.child.kill(sig);
  let timer: NodeJS.Timeout | undefined;
  const r = await Promise.race([
    fg.done,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`daemon did not exit within ${timeoutMs} ms of ${sig}`)), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  return r;
}

// ---------------------------------------------------------------------------
// systemd's notify socket

export interface NotifyListener {
  socket: string;
  text: () => string;
  proc: ChildProcess;
  close: () => void;
}

/** A datagram unix socket like systemd's notify socket (socat must be there); everything received is concatenated. */
export async function listenForNotify(): Promise<NotifyListener> {
  const dir = scratchDir('dfs-notify-');
  const socket = path.join(dir, 'notify.sock');
  const proc = spawn('socat', ['-u', `UNIX-RECV:${socket}`, '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  await waitFor('socat to bind the notify socket', () => fs.existsSync(socket), 5000, 20);
  return { socket, text: () => out, proc, close: () => proc.kill('SIGTERM') };
}

/** Messages: sd-notify sends READY=1, WATCHDOG=1, STOPPING=1 bare and STATUS=...\n. */
export function notifyMessages(raw: string): string[] {
  const out: string[] = [];
  const re = /(READY=1|WATCHDOG=1|STOPPING=1|STATUS=[^\n]*\n?)/g;
  for (let m; (m = re.exec(raw)); ) out.push(m[1].replace(/\n$/, ''));
  return out;
}
