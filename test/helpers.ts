// Shared test helpers: scratch directories, optional external tools, running the
// built executables, and fingerprints of directory trees (to prove that a
// command changed nothing, or exactly what it changed).

import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns, type StdioOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The repository root: the nearest directory above this file with a package.json. */
export const repoRoot: string = (() => {
  for (let d = __dirname; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'package.json'))) return d;
    if (path.dirname(d) === d) throw new Error(`no package.json above ${__dirname}`);
  }
})();

// ---------------------------------------------------------------------------
// Scratch directories

const scratch: string[] = [];
let cleanupInstalled = false;

function forceRemove(dir: string): void {
  try {
    fs.rmSync(dir, { recursive: true, force: true });
    return;
  } catch {
    // A test may have left a directory without write or search permission
    // (as non-root that blocks removal): give them back, then retry.
  }
  const reopen = (d: string): void => {
    try {
      fs.chmodSync(d, 0o700);
      for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) reopen(path.join(d, e.name));
    } catch {
      /* best effort */
    }
  };
  reopen(dir);
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch (err) {
    process.stderr.write(`helpers: could not remove ${dir}: ${(err as Error).message}\n`);
  }
}

function cleanup(): void {
  const keep = !!process.env.DFS_KEEP_TMP;
  for (const d of scratch.splice(0)) {
    if (keep) process.stderr.write(`helpers: DFS_KEEP_TMP set, keeping ${d}\n`);
    else forceRemove(d);
  }
}

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', () => {
    killChildren();
    cleanup();
  });
  // 'exit' does not run when a signal kills the process (the runner's timeout
  // sends SIGTERM): clean up, then die of the same signal as before.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      cleanup();
      killChildren();
      process.kill(process.pid, sig);
    });
  }
}

/**
 * A new empty directory under os.tmpdir(), removed when the process exits
 * (unless DFS_KEEP_TMP is set, for post-mortems).
 */
export function scratchDir(prefix = 'dfs-test-'): string {
  installCleanup();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix.endsWith('-') ? prefix : `${prefix}-`));
  scratch.push(dir);
  return dir;
}

// ---------------------------------------------------------------------------
// External tools

/** The full path of an executable found on PATH (or the path itself if given with a slash), else null. */
export function which(name: string): string | null {
  const candidates = name.includes('/')
    ? [name]
    : (process.env.PATH || '').split(path.delimiter).filter(Boolean).map((d) => path.join(d, name));
  for (const c of candidates) {
    try {
      if (fs.statSync(c).isFile()) {
        fs.accessSync(c, fs.constants.X_OK);
        return c;
      }
    } catch {
      /* next */
    }
  }
  return null;
}

const isCI = (): boolean => ['true', '1', 'yes'].includes((process.env.CI || '').toLowerCase());

/**
 * True when the tool is installed. When it is not: under CI=true throw (the
 * test fails: CI must have every tool, `make deps` installs them); elsewhere
 * print a loud SKIP line on stderr and return false, so the caller skips.
 *
 *   if (!requireTool('promtool')) return;
 */
export function requireTool(name: string): boolean {
  if (which(name)) return true;
  if (isCI()) throw new Error(`${name} is not installed, and CI=true requires it (make deps installs it as root)`);
  process.stderr.write(`\n*** SKIP: ${name} not installed\n`);
  return false;
}

// ---------------------------------------------------------------------------
// Running the built executables

export interface CliOptions {
  /** Data for standard input. */
  input?: string | Buffer;
  /** Merged over process.env; a value of undefined removes the variable. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Milliseconds before the process is killed with SIGKILL (default 120000). */
  timeout?: number;
}

export interface CliResult {
  /** Exit status; null when killed by a signal or timed out. */
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Where the built executables are run from: the checkout, unless useReachableCheckout() moved it. */
let cliRoot = repoRoot;

/**
 * Tools run as root over a pool another user owns become that user, and must
 * still load their own modules (a worker thread's script, say). From a
 * checkout only its owner can enter (git clone into mktemp -d: 0700), they
 * cannot: so this process's tools run from a copy of dist/ and node_modules/
 * in a scratch directory every user can traverse. An installed tree needs
 * nothing of the sort (it is world-readable).
 */
export function useReachableCheckout(): string {
  let open = true;
  for (let d = repoRoot; ; d = path.dirname(d)) {
    if ((fs.statSync(d).mode & 0o001) === 0) open = false;
    if (path.dirname(d) === d) break;
  }
  if (open) return (cliRoot = repoRoot);
  const copy = scratchDir('dfs-reachable-');
  fs.chmodSync(copy, 0o755);
  for (const part of ['dist', 'node_modules', 'package.json']) fs.cpSync(path.join(repoRoot, part), path.join(copy, part), { recursive: true, verbatimSymlinks: true });
  return (cliRoot = copy);
}

/** dist/src/cli/<name>.js, or an error saying it has not been built. */
export function cliPath(name: string): string {
  const js = path.join(cliRoot, 'dist', 'src', 'cli', `${name}.js`);
  if (!fs.existsSync(js)) throw new Error(`${path.relative(repoRoot, js)} does not exist: is src/cli/${name}.ts written and built (make build)?`);
  return js;
}

function cliEnv(extra?: Record<string, string | undefined>): NodeJS.ProcessEnv {
  // Plain output: tests compare text, and a FORCE_COLOR inherited from a
  // terminal must not put escape codes into it.
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.FORCE_COLOR;
  for (const [k, v] of Object.entries(extra || {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Runs a built executable to completion: `node dist/src/cli/<name>.js ...args`. */
export function cli(name: string, args: readonly string[] = [], opts: CliOptions = {}): CliResult {
  const r = spawnSync(process.execPath, [cliPath(name), ...args], {
    input: opts.input,
    env: cliEnv(opts.env),
    cwd: opts.cwd,
    timeout: opts.timeout ?? 120_000,
    killSignal: 'SIGKILL',
    maxBuffer: 256 * 1024 * 1024,
    encoding: 'utf8',
  });
  if (r.error && (r.error as NodeJS.ErrnoException).code !== 'ETIMEDOUT') throw r.error;
  let stderr = r.stderr ?? '';
  if (r.error) stderr += `\n[helpers.cli: ${name} ${args.join(' ')} killed after ${opts.timeout ?? 120_000} ms]\n`;
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr };
}

const children = new Set<ChildProcess>();

function killChildren(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

/**
 * Starts a built executable and returns at once. Its stdio are pipes unless
 * opts.stdio says otherwise. Children still running when the test process
 * exits are killed, so a failed assertion does not leave a daemon behind.
 */
export function cliAsync(
  name: string,
  args: readonly string[] = [],
  opts: Omit<CliOptions, 'input' | 'timeout'> & { stdio?: StdioOptions } = {},
): ChildProcess {
  installCleanup();
  const child = spawn(process.execPath, [cliPath(name), ...args], {
    env: cliEnv(opts.env),
    cwd: opts.cwd,
    stdio: opts.stdio ?? 'pipe',
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

/** Collects a child's output and waits for it to end. Call it before the child writes much. */
export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = '', stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

// ---------------------------------------------------------------------------
// Tree fingerprints

export interface FingerprintOptions {
  /** Leave out a path (relative, '/'-separated) and, for a directory, all below it. */
  exclude?: (rel: string) => boolean;
  /** Include modification times (off by default: content and metadata only). */
  mtime?: boolean;
}

function sha256File(file: string): string {
  let fd: number;
  try {
    // O_NOFOLLOW | O_NONBLOCK: never follow a link swapped in, never block.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (err) {
    return `<${(err as NodeJS.ErrnoException).code ?? 'error'}>`;
  }
  try {
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
    return h.digest('hex');
  } catch (err) {
    return `<${(err as NodeJS.ErrnoException).code ?? 'error'}>`;
  } finally {
    fs.closeSync(fd);
  }
}

function describe(abs: string, st: fs.Stats, opts: FingerprintOptions): string {
  const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
  const time = opts.mtime ? ` mtime=${st.mtimeMs}` : '';
  if (st.isSymbolicLink()) return `symlink -> ${fs.readlinkSync(abs)}`;
  if (st.isDirectory()) return `dir ${mode}${time}`;
  if (st.isFile()) return `file ${mode} size=${st.size} sha256=${sha256File(abs)}${time}`;
  if (st.isFIFO()) return `fifo ${mode}${time}`;
  if (st.isSocket()) return `socket ${mode}${time}`;
  if (st.isCharacterDevice()) return `chardev ${mode} rdev=${st.rdev}${time}`;
  if (st.isBlockDevice()) return `blockdev ${mode} rdev=${st.rdev}${time}`;
  return `unknown ${mode}`;
}

/**
 * Every file, directory, symlink (not followed) and special file below `dir`,
 * keyed by its '/'-separated path relative to `dir`, in sorted walk order:
 * type, permission bits, size and sha256 for regular files, target for links.
 */
export function fingerprintTree(dir: string, opts: FingerprintOptions = {}): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (abs: string, rel: string): void => {
    for (const name of fs.readdirSync(abs).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (opts.exclude?.(r)) continue;
      const a = path.join(abs, name);
      const st = fs.lstatSync(a);
      out.set(r, describe(a, st, opts));
      if (st.isDirectory()) walk(a, r);
    }
  };
  walk(dir, '');
  return out;
}

/** Human-readable differences from `a` to `b`, sorted by path; empty when equal. */
export function diffFingerprints(a: Map<string, string>, b: Map<string, string>): string[] {
  const out: string[] = [];
  for (const p of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const x = a.get(p), y = b.get(p);
    if (x === y) continue;
    if (y === undefined) out.push(`removed ${p} (${x})`);
    else if (x === undefined) out.push(`added ${p} (${y})`);
    else out.push(`changed ${p}: ${x} -> ${y}`);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Set-up steps

/** Memoizes a setup step; a failed one fails every test that needs it, with its own message. */
export function once<T>(f: () => T): () => T {
  let done = false, value: T, error: unknown;
  return () => {
    if (!done) {
      done = true;
      try {
        value = f();
      } catch (err) {
        error = err;
      }
    }
    if (error) throw error;
    return value;
  };
}

/** The environment of a make run from a test, without anything an outer `make check` exported. */
function makeEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES', 'DESTDIR', 'PREFIX', 'BINDIR', 'LIBDIR', 'MANDIR', 'UNITDIR']) delete env[k];
  return env;
}

/** `make ARGS` in the checkout, as a test runs it: clean environment, five minutes at most. */
export function runMake(args: string[]): SpawnSyncReturns<string> {
  const r = spawnSync('make', ['--no-print-directory', ...args], {
    cwd: repoRoot,
    env: makeEnv(),
    encoding: 'utf8',
    timeout: 300_000,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw new Error(`make ${args.join(' ')}: ${r.error.message}\n${r.stdout}${r.stderr}`);
  return r;
}
