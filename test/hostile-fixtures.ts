// Shared by test/hostile-pool.test.ts: root's tools against a pool that an
// unprivileged user (uid 65534, "nobody") owns and has booby-trapped. Pools
// are copied from one template; what the user plants is planted as that user
// (setpriv) or, where only root can make it, chowned to them; the victims are
// root's own files in a separate scratch directory, fingerprinted before and
// after. Every tool runs with a timeout: a hang is a failure, never a stall.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { cli, cliAsync, collect, diffFingerprints, fingerprintTree, requireTool, scratchDir, useReachableCheckout, type CliResult } from './helpers';

// Root's tools become the pool's owner (uid 65534 here) and must still read their own code.
if (process.getuid?.() === 0) useReachableCheckout();

/** The hostile user: owns the pool, plants the traps. */
export const USER = 65534;
/** A second unprivileged user (no passwd entry needed): the attacker's target in the runtime directory case. */
export const OTHER = 65533;
/** Milliseconds any one tool may take; far above the ~0.3 s a run takes here. */
export const TOOL_TIMEOUT = 15_000;

const isCI = (): boolean => ['true', '1', 'yes'].includes((process.env.CI || '').toLowerCase());

/**
 * True when the test can run: root (to run root's tools and switch users) and
 * setpriv/mkfifo. Otherwise a loud SKIP line, or under CI=true a failure.
 */
export function hostileReady(what: string): boolean {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    if (isCI()) assert.unreachable(`${what}: needs root (to run root's tools over another user's pool), and CI=true requires it`);
    process.stderr.write(`\n*** SKIP: ${what}: needs root (runs root's tools over a pool of uid ${USER})\n`);
    return false;
  }
  // requireTool throws under CI, prints its own SKIP line elsewhere.
  return requireTool('setpriv') && requireTool('mkfifo') && requireTool('cp') && requireTool('truncate');
}

// ---------------------------------------------------------------------------
// Acting as the user

const asArgs = (uid: number) => ['--reuid', String(uid), '--regid', String(uid), '--clear-groups'];

/** Runs a shell script as the user; fails the test if it fails. */
export function asUser(script: string, uid = USER): void {
  const r = spawnSync('setpriv', [...asArgs(uid), 'sh', '-c', `set -e; ${script}`], { encoding: 'utf8', timeout: 20_000 });
  assert.is(r.status, 0, `as uid ${uid}: ${script}: ${r.stderr}${r.error ? ` (${r.error.message})` : ''}`);
}

/** Starts node code as the user (the racing swapper); args reach it as process.argv[1..]. */
export function nodeAsUser(code: string, args: string[], uid = USER): ChildProcess {
  return spawn('setpriv', [...asArgs(uid), process.execPath, '-e', code, '--', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Single-quoted for sh. */
export const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
}

export const chownR = (p: string, uid = USER) => run('chown', ['-R', '-h', `${uid}:${uid}`, p]);

// ---------------------------------------------------------------------------
// Scratch, pools, victims

/** A scratch directory others may traverse (scratchDir makes them 0700). */
export function openScratch(prefix: string): string {
  const d = scratchDir(prefix);
  fs.chmodSync(d, 0o755);
  return d;
}

export interface Template {
  root: string;
  /** Object name -> content. */
  objects: Map<string, Buffer>;
}

let template: Template | undefined;

/** One pool made by root (3 disks under P/disks, mirror:2, 64K extents, two objects, one scrub), copied per test. */
export function poolTemplate(): Template {
  if (template) return template;
  const dir = openScratch('dfs-hostile-tpl-');
  const root = path.join(dir, 'P');
  must(cli('dfs-pool', ['create', '--pool', root, '--disks', '3', '--redundancy', 'mirror:2', '--extent-size', '64K'], { timeout: TOOL_TIMEOUT }), 'create');
  const objects = new Map<string, Buffer>([
    ['alpha', randomBytes(200_000)],
    ['beta', randomBytes(3)],
  ]);
  for (const [name, data] of objects) {
    const file = path.join(dir, name);
    fs.writeFileSync(file, data);
    must(cli('dfs-pool', ['put', file, name, '--pool', root], { timeout: TOOL_TIMEOUT }), `put ${name}`);
  }
  must(cli('dfs-scrub', ['--pool', root], { timeout: TOOL_TIMEOUT }), 'first scrub');
  assert.ok(fs.existsSync(path.join(root, '.dynamicfs', 'scrub-state.json')), 'the first scrub wrote its state');
  template = { root, objects };
  return template;
}

function must(r: CliResult, what: string): CliResult {
  assert.is(r.status, 0, `${what}: exit ${r.status}: ${r.stderr}`);
  return r;
}

export interface UserPool {
  dir: string;
  root: string;
  state: string;
  disks: string[];
  objects: Map<string, Buffer>;
}

/** A fresh copy of the template, given to the user (chown -R 65534). */
export function userPool(uid = USER, dir = openScratch('dfs-hostile-')): UserPool {
  const t = poolTemplate();
  const root = path.join(dir, 'P');
  run('cp', ['-a', t.root, root]);
  if (uid !== 0) chownR(root, uid);
  return {
    dir,
    root,
    state: path.join(root, '.dynamicfs'),
    disks: [0, 1, 2].map((i) => path.join(root, 'disks', `d${i}`)),
    objects: t.objects,
  };
}

/** Every shard file on a disk, sorted. */
export function shardsOn(disk: string): string[] {
  const ext = path.join(disk, 'extents');
  const out: string[] = [];
  for (const p of fs.readdirSync(ext).sort()) for (const f of fs.readdirSync(path.join(ext, p)).sort()) out.push(path.join(ext, p, f));
  return out;
}

/** Flips one payload byte of the first shard on the first disk holding one (a repair then writes the audit log and quarantine). */
export function damageShard(pool: UserPool): string {
  const file = pool.disks.flatMap((d) => shardsOn(d))[0];
  const fd = fs.openSync(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, 200);
    b[0] ^= 0x5a;
    fs.writeSync(fd, b, 0, 1, 200);
  } finally {
    fs.closeSync(fd);
  }
  return file;
}

export interface Victim {
  dir: string;
  /** Root's secret: mode 0600. */
  secret: string;
  /** A directory of root's files named like pool state. */
  sub: string;
  /** A string found only in the victim's files: it must never show in any output or in the pool. */
  marker: string;
  before: Map<string, string>;
}

/**
 * Root's files that the user's links point at. The secret is shaped to be
 * tempting: a valid lock of a live process, settings and daemon info, whose
 * every field carries the marker, so a tool that read it as root would echo it.
 */
export function makeVictim(extra: (sub: string) => void = () => undefined): Victim {
  const dir = openScratch('dfs-victim-');
  const marker = `SECRET-${randomBytes(8).toString('hex')}`;
  const secretJson = JSON.stringify({ pid: process.pid, owner: marker, since: marker, intensity: marker, paused: marker, startedAt: marker, lastPass: marker }) + '\n';
  const secret = path.join(dir, 'secret.json');
  fs.writeFileSync(secret, secretJson, { mode: 0o600 });
  const sub = path.join(dir, 'dir');
  fs.mkdirSync(sub, { mode: 0o755 });
  // Names a link-following tool would read, append to, replace or delete.
  for (const name of ['scrub-state.json', 'scrub.lock', 'audit.log', 'daemon-settings.json', 'daemon.json', 'scrubd.log', 'disk-errors-cleared.json', 'names', '00', '5a', 'ff']) {
    fs.writeFileSync(path.join(sub, name), `${marker} ${name}\n`, { mode: 0o644 });
  }
  fs.mkdirSync(path.join(sub, 'nested'));
  fs.writeFileSync(path.join(sub, 'nested', 'keep'), `${marker} nested\n`);
  extra(sub);
  // Old times, so a change of mtime shows (fingerprints include mtimes).
  const old = new Date('2020-01-01T00:00:00Z');
  for (const p of [path.join(sub, 'nested', 'keep'), path.join(sub, 'nested'), ...fs.readdirSync(sub).map((n) => path.join(sub, n)), sub, secret]) fs.utimesSync(p, old, old);
  return { dir, secret, sub, marker, before: fingerprintTree(dir, { mtime: true }) };
}

/** The victim's tree has not changed in any way (content, mode, type, mtime, entries). */
export function assertVictimUnchanged(v: Victim, what = 'victim'): void {
  const diff = diffFingerprints(v.before, fingerprintTree(v.dir, { mtime: true }));
  assert.equal(diff, [], `${what} changed:\n  ${diff.join('\n  ')}`);
  const st = fs.statSync(v.secret);
  assert.is(st.uid, 0, 'the secret still belongs to root');
  assert.is(st.mode & 0o777, 0o600, 'the secret is still 0600');
}

/** Regular files under dir (links not followed) whose content holds `needle`. */
export function filesContaining(dir: string, needle: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let names: string[];
    try {
      names = fs.readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = path.join(d, n);
      let st: fs.Stats;
      try {
        st = fs.lstatSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && st.size < 64 * 1024 * 1024) {
        try {
          const fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
          try {
            const buf = Buffer.alloc(st.size);
            fs.readSync(fd, buf, 0, st.size, 0);
            if (buf.includes(needle)) out.push(p);
          } finally {
            fs.closeSync(fd);
          }
        } catch {
          /* gone meanwhile */
        }
      }
    }
  };
  walk(dir);
  return out;
}

// ---------------------------------------------------------------------------
// Running root's tools and judging what they did

export interface Ran extends CliResult {
  label: string;
  ms: number;
  timedOut: boolean;
}

/** Runs a tool as root (this process) with a timeout. */
export function tool(name: string, args: string[], timeout = TOOL_TIMEOUT, env?: Record<string, string | undefined>): Ran {
  const t0 = Date.now();
  const r = cli(name, args, { timeout, env });
  const ms = Date.now() - t0;
  const timedOut = r.status === null && r.signal === 'SIGKILL' && ms >= timeout - 50;
  const ran: Ran = { ...r, label: `${name} ${args.join(' ')}`, ms, timedOut };
  if (name === 'dfs-scrubd' && args[0] === 'start' && r.status === 0) ownDaemon(Number(r.stdout.trim().split('\n').pop()));
  return ran;
}

/** The same, started asynchronously (so this process can serve a socket meanwhile); killed after `timeout`. */
export async function toolAsync(name: string, args: string[], timeout = TOOL_TIMEOUT, env?: Record<string, string | undefined>): Promise<Ran> {
  const t0 = Date.now();
  const child = cliAsync(name, args, { env });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeout);
  const r = await collect(child);
  clearTimeout(timer);
  return { ...r, label: `${name} ${args.join(' ')}`, ms: Date.now() - t0, timedOut };
}

/** Collects every problem of a test before failing it, so one run reports every hole, not the first. */
export class Problems {
  readonly list: string[] = [];

  add(msg: string): void {
    this.list.push(msg);
  }

  /**
   * A run against a hostile pool: it ended by itself within the timeout, with
   * an allowed exit code, no internal error, no marker of the victim in its
   * output; exit 8 is one clear line (notices aside) that names `names` when given.
   */
  judge(r: Ran, allowed: number[], opts: { marker?: string; names?: string | RegExp } = {}): Ran {
    const tail = `\n      stderr: ${JSON.stringify(r.stderr.slice(0, 600))}`;
    if (r.timedOut || r.status === null) {
      this.add(`${r.label}: did not end by itself (killed after ${r.ms} ms, signal ${r.signal}): a hang${tail}`);
      return r;
    }
    if (!allowed.includes(r.status)) this.add(`${r.label}: exit ${r.status}, expected one of ${allowed.join('/')}${tail}`);
    if (/internal error/i.test(r.stderr)) this.add(`${r.label}: internal error (exit ${r.status})${tail}`);
    if (r.status === 8) {
      const lines = r.stderr.split('\n').filter((l) => l.trim() && !/: notice: /.test(l));
      if (lines.length !== 1) this.add(`${r.label}: exit 8 with ${lines.length} error lines, expected one${tail}`);
      if (opts.names && !(typeof opts.names === 'string' ? r.stderr.includes(opts.names) : opts.names.test(r.stderr))) {
        this.add(`${r.label}: exit 8 without naming ${String(opts.names)}${tail}`);
      }
    }
    if (opts.marker && (r.stdout.includes(opts.marker) || r.stderr.includes(opts.marker))) this.add(`${r.label}: its output shows the content of root's file (${opts.marker})`);
    return r;
  }

  check(ok: unknown, msg: string): void {
    if (!ok) this.add(msg);
  }

  assertNone(what: string): void {
    assert.ok(this.list.length === 0, `${what}: ${this.list.length} problem(s):\n  - ${this.list.join('\n  - ')}`);
  }
}

// ---------------------------------------------------------------------------
// Daemons: every one started is stopped, or killed by PID at exit

const daemons = new Set<number>();

function argv(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

const isScrubd = (args: string[]) => args.some((a) => a.endsWith('dfs-scrubd.js') || a.endsWith('dfs-scrubd'));

export function ownDaemon(pid: number): void {
  if (Number.isInteger(pid) && pid > 0) daemons.add(pid);
}

export function forgetDaemon(pid: number): void {
  daemons.delete(pid);
}

/** PIDs of dfs-scrubd processes serving this (unique, scratch) pool path. */
export function daemonsOf(root: string): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const args = argv(Number(e));
    if (isScrubd(args) && args.includes(root)) out.push(Number(e));
  }
  return out;
}

/** Kills (SIGKILL, by PID) daemons left on this pool; returns how many there were. */
export function reapDaemonsOf(root: string): number {
  const pids = daemonsOf(root);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    daemons.delete(pid);
  }
  return pids.length;
}

function reapAll(): void {
  for (const pid of daemons) {
    if (isScrubd(argv(pid))) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  daemons.clear();
}

process.on('exit', reapAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, reapAll);

/**
 * `dfs-scrubd start` (a pass per hour, so it idles after its first), then,
 * when it started, `status` and `stop`; else `status`, which must say no
 * daemon runs (3) or refuse (8). Every run is judged.
 */
export function daemonRound(p: Problems, root: string, judgeOpts: { marker?: string; names?: string | RegExp } = {}, timeout = TOOL_TIMEOUT): void {
  const start = p.judge(tool('dfs-scrubd', ['start', '--pool', root, '--pass-interval', '1h'], timeout), [0, 8], judgeOpts);
  if (start.status === 0) {
    const pid = Number(start.stdout.trim().split('\n').pop());
    p.judge(tool('dfs-scrubd', ['status', '--pool', root], timeout), [0], judgeOpts);
    p.judge(tool('dfs-scrubd', ['stop', '--pool', root], timeout), [0], judgeOpts);
    forgetDaemon(pid);
  } else {
    p.judge(tool('dfs-scrubd', ['status', '--pool', root], timeout), [3, 8], judgeOpts);
  }
  const left = reapDaemonsOf(root);
  if (left) p.add(`dfs-scrubd start/stop on ${root}: ${left} daemon process(es) left running (killed)`);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
