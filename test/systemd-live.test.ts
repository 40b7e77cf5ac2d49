// The shipped scrub units under a real systemd, as an operator uses them after
// `make install`: no mocks. systemd runs as PID 1 of a private PID + mount
// namespace (/work/shared/TESTING-NOTES.md, "A real systemd"); the toolkit is
// installed with `make install` into a prefix the namespace sees; the
// installed dfs-scrub-schedule, run inside the namespace, writes the pool's
// configs and drop-ins and runs the real `systemctl daemon-reload` and
// `systemctl enable --now` of a weekly deep and an hourly light timer. Then
// the services run for real: a deleted shard is repaired by the light service
// (exit 1, a success) and the state records a scheduled light pass; the deep
// service passes clean; with the pool's scrub lock held by another live
// process the light service skips (a success, the pool untouched) and the
// deep service waits, activating, until the holder ends, then repairs;
// `--remove --depth light` disables only the light timer. Last, systemd is
// powered off and nothing is left: no process, mount, cgroup or file.
//
// The namespace, beyond the notes' recipe (tmpfs on /run, /tmp, /var/tmp;
// --unit=basic.target; a private /etc/systemd/system), is sealed further,
// because this machine's systemd units were seen writing, or trying to write,
// outside it:
//   - a private /dev (tmpfs with the basic nodes and a new devpts): on the
//     machine's devtmpfs, journald's and initctl's sockets leave /dev/log and
//     /dev/initctl symlinks, and the API mounts /dev/mqueue and /dev/hugepages;
//   - / (and /sys, /proc/sys) read-only but for the test's own directory:
//     systemd-tmpfiles otherwise changes ACLs of /var/log/journal and creates
//     directories such as /root/.ssh, systemd-update-utmp writes /var/log/wtmp,
//     systemd-sysctl would apply sysctl.d to the machine's kernel;
//   - the private /etc/systemd/system starts empty but for masks of units that
//     change kernel-wide state (modules, sysctl, binfmt, audit), so nothing the
//     machine enables (PostgreSQL, Prometheus, apt timers) is even loaded;
//   - private UTS, IPC and network namespaces, and a cgroup of our own under
//     which systemd builds its tree (removed at the end);
//   - stopped with `systemctl start --job-mode=replace-irreversibly
//     poweroff.target`, what `systemctl poweroff` does once it has asked
//     logind over D-Bus (which, here, times out twice: 50 s).
// If this process is killed, a guardian process (its own session, holding a
// pipe from this one) kills the namespace and removes the cgroups and files.
//
// The pool lives under /var/lib/dynamicfs-test/: its instance holds a
// backslash escape (\x2d), which systemd must resolve (see AREA_ROOT).
//
// Needs root, unshare, nsenter, /lib/systemd/systemd, systemctl, journalctl,
// systemd-escape, make: without them it prints a SKIP line, and under CI=true
// it fails instead.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { diffFingerprints, fingerprintTree, once, repoRoot, requireTool, runMake } from './helpers';

const SYSTEMD = '/lib/systemd/systemd';
/**
 * A '-' in the pool's path: its instance holds systemd-escape's `\x2d`. The
 * units once named per-pool files with %i in EnvironmentFile=, which systemd
 * globs, reading those backslashes as escapes: the file was never found and
 * every service failed (Result=resources). The options now come from the
 * instance drop-in, which systemd finds by the unit's name.
 */
const AREA_ROOT = '/var/lib/dynamicfs-test';
/** The machine's two cores are shared with other test runs: generous. */
const BOOT_TIMEOUT_MS = 90_000;
const UNIT_TIMEOUT_MS = 120_000;
/** Units whose only work here would be on the machine's kernel: masked in the namespace. */
const MASKED = [
  'systemd-modules-load.service',
  'kmod-static-nodes.service',
  'systemd-sysctl.service',
  'systemd-binfmt.service',
  'proc-sys-fs-binfmt_misc.automount',
  'systemd-journald-audit.socket',
];
/** What systemd would leave on the machine's devtmpfs without a private /dev. */
const DEV_LEAKS = ['log', 'initctl', 'mqueue', 'hugepages'];

const isCI = (): boolean => ['true', '1', 'yes'].includes((process.env.CI || '').toLowerCase());
const sleepMs = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const lexists = (p: string) => {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
};
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const tail = (s: string, n = 3000) => (s.length > n ? `...${s.slice(-n)}` : s);

/** Whether pid has exited (gone, or a zombie not reaped yet). */
function exited(pid: number): boolean {
  try {
    return /\) [ZX] /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined | false, everyMs = 200): T {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > until) throw new Error(`systemd-live: timed out after ${timeoutMs} ms waiting for ${what}`);
    sleepMs(everyMs);
  }
}

// ---------------------------------------------------------------------------
// Prerequisites

const canRun = once((): boolean => {
  const what = 'systemd-live: the scrub units under a real systemd (PID 1 of a private PID and mount namespace)';
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    if (isCI()) assert.unreachable(`${what}: needs root, and CI=true requires it`);
    process.stderr.write(`\n*** SKIP: ${what}: needs root\n`);
    return false;
  }
  for (const tool of ['unshare', 'nsenter', SYSTEMD, 'systemctl', 'journalctl', 'systemd-escape', 'make']) {
    if (!requireTool(tool)) return false;
  }
  return true;
});

// ---------------------------------------------------------------------------
// Cleanup: the same script runs at teardown and, if this process dies first,
// in the guardian. It reads the state file (what exists so far), kills the
// namespace (unshare --kill-child takes its PID 1, and so every process in it),
// removes our cgroups (they empty as the namespace's processes go) and the
// test's directory.

const CLEANUP_JS = String.raw`
const fs = require('node:fs');
const path = require('node:path');
const [stateFile, mode] = process.argv.slice(1);
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const gone = (pid) => { try { return /\) [ZX] /.test(fs.readFileSync('/proc/' + pid + '/stat', 'utf8')); } catch { return true; } };
const cmdline = (pid) => { try { return fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8'); } catch { return ''; } };
function cleanup() {
  let st;
  try { st = JSON.parse(fs.readFileSync(stateFile, 'utf8')); } catch { return; }
  const said = [];
  for (const [pid, mark] of [[st.unsharePid, st.bootScript], [st.systemdPid, '--unit=basic.target']]) {
    if (!pid || !mark || gone(pid) || !cmdline(pid).includes(mark)) continue;
    try { process.kill(pid, 'SIGKILL'); said.push('killed PID ' + pid); } catch {}
    for (let t = 0; t < 10000 && !gone(pid); t += 50) sleep(50);
  }
  const rmCgroup = (d) => {
    let entries = [];
    try { entries = fs.readdirSync(d, { withFileTypes: true }); } catch { return; }
    for (const e of entries) if (e.isDirectory()) rmCgroup(path.join(d, e.name));
    for (let t = 0; ; t += 100) {
      try { fs.rmdirSync(d); return; } catch (err) {
        if (err.code === 'ENOENT') return;
        if (t >= 15000) { said.push('cannot remove cgroup ' + d + ': ' + err.code); return; }
        sleep(100);
      }
    }
  };
  for (const d of st.cgroups || []) rmCgroup(d);
  if (st.area && st.areaRoot && st.area.startsWith(st.areaRoot + '/live_')) {
    try { fs.rmSync(st.area, { recursive: true, force: true }); } catch (err) { said.push('cannot remove ' + st.area + ': ' + err.message); }
    if (st.removeAreaRoot) { try { fs.rmdirSync(st.areaRoot); } catch {} }
  }
  try { fs.rmSync(stateFile, { force: true }); } catch {}
  if (said.length) process.stderr.write('systemd-live cleanup: ' + said.join('; ') + '\n');
}
if (mode === 'guard') {
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => {});
  process.stdin.on('data', () => {});
  process.stdin.on('close', () => { cleanup(); process.exit(0); });
} else cleanup();
`;

interface CleanupState {
  area: string;
  areaRoot: string;
  removeAreaRoot: boolean;
  cgroups: string[];
  bootScript?: string;
  unsharePid?: number;
  systemdPid?: number;
}

const stateFile = path.join(os.tmpdir(), `dfs-systemd-live-${process.pid}.json`);
let cleanupState: CleanupState | undefined;

function saveCleanupState(s: CleanupState): void {
  cleanupState = s;
  const tmp = `${stateFile}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(s));
  fs.renameSync(tmp, stateFile);
}

let guardianStarted = false;
function startGuardian(): void {
  if (guardianStarted) return;
  guardianStarted = true;
  const g = spawn(process.execPath, ['-e', CLEANUP_JS, stateFile, 'guard'], { detached: true, stdio: ['pipe', 'ignore', 'inherit'] });
  g.on('error', (err) => process.stderr.write(`systemd-live: guardian failed to start: ${err.message}\n`));
  g.unref();
  (g.stdin as unknown as { unref?: () => void }).unref?.();
}

// ---------------------------------------------------------------------------
// The rig: an install, a pool, and systemd in its namespace

interface Rig {
  area: string;
  prefix: string;
  pool: string;
  confDir: string;
  etcDir: string;
  instance: string;
  objectName: string;
  objectSha: string;
  unshare: ChildProcess;
  systemdPid: number;
  /** The machine before: what the namespace must not have changed. */
  before: HostView;
}

interface HostView {
  etcSystemd: Map<string, string>;
  dev: string[];
  etcDynamicfs: boolean;
  timers: boolean;
  journal: Map<string, string> | null;
}

function hostView(): HostView {
  return {
    etcSystemd: lexists('/etc/systemd/system') ? fingerprintTree('/etc/systemd/system') : new Map(),
    dev: DEV_LEAKS.filter((n) => lexists(`/dev/${n}`)),
    etcDynamicfs: lexists('/etc/dynamicfs'),
    timers: lexists('/var/lib/systemd/timers'),
    journal: lexists('/var/log/journal') ? fingerprintTree('/var/log/journal') : null,
  };
}

/** make's environment from a test, without anything an outer `make check` exported (as test/install.test.ts). */

/** A plain environment for everything run in the namespace and for the installed tools: nothing of this process's. */
const CLEAN_ENV: NodeJS.ProcessEnv = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LANG: 'C.UTF-8',
  NO_COLOR: '1',
  SYSTEMD_PAGER: '',
  SYSTEMD_COLORS: '0',
};

function must(r: SpawnSyncReturns<string>, what: string): string {
  if (r.error) throw new Error(`${what}: ${r.error.message}\n${r.stdout ?? ''}${r.stderr ?? ''}`);
  assert.is(r.status, 0, `${what} exited ${r.status}:\n${tail(r.stdout + r.stderr)}`);
  return r.stdout;
}

/** cgroup hierarchies in which systemd tracks processes: cgroup2, and v1's name=systemd. */
function trackingHierarchies(): string[] {
  const out: string[] = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-');
    if (dash < 6) continue;
    const type = f[dash + 1];
    const opts = f[dash + 3] ?? '';
    if (type === 'cgroup2' || (type === 'cgroup' && opts.split(',').includes('name=systemd'))) out.push(f[4]);
  }
  return out;
}

/** The boot script unshare runs: seal the namespace, then exec systemd as its PID 1. */
function bootScript(area: string, cgroups: string[]): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `set -eu
area=${q(area)}
# A cgroup of our own: systemd builds its tree beneath it, and it is removed at the end.
for cg in ${cgroups.map(q).join(' ')}; do mkdir "$cg"; echo 0 > "$cg/cgroup.procs"; done
# TESTING-NOTES.md: private tmpfs on /run, /tmp and /var/tmp.
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp
# A private /dev: nothing systemd makes there reaches the machine's devtmpfs.
mount -t tmpfs -o mode=0755,nosuid tmpfs /dev
mknod -m 0666 /dev/null c 1 3; mknod -m 0666 /dev/zero c 1 5; mknod -m 0666 /dev/full c 1 7
mknod -m 0666 /dev/random c 1 8; mknod -m 0666 /dev/urandom c 1 9; mknod -m 0666 /dev/tty c 5 0
mkdir /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts
ln -s pts/ptmx /dev/ptmx
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
ln -s /proc/self/fd /dev/fd; ln -s /proc/self/fd/0 /dev/stdin; ln -s /proc/self/fd/1 /dev/stdout; ln -s /proc/self/fd/2 /dev/stderr
# TESTING-NOTES.md: a private /etc/systemd/system (systemctl enable writes there).
mount --bind "$area/etc-systemd-system" /etc/systemd/system
# Everything read-only but the test's own directory (install prefix, pool, configs).
mount --bind "$area" "$area"
mount -o remount,bind,ro /
mount -o remount,bind,ro /sys
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys
# The installed units, as they are after make install, where systemd looks at runtime.
mkdir -p /run/systemd/system
cp "$area/prefix/lib/systemd/system/"* /run/systemd/system/
# TESTING-NOTES.md: --unit=basic.target, or it starts every service installed here.
exec env -i container=lxc PATH=${CLEAN_ENV.PATH} ${SYSTEMD} --system --unit=basic.target --log-target=null
`;
}

function childOf(pid: number): number | undefined {
  try {
    const kids = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    if (kids.length) return kids[0];
  } catch {
    /* fall back to a scan */
  }
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) return Number(e);
    } catch {
      /* gone */
    }
  }
  return undefined;
}

let rigRef: Rig | undefined;
/** A live process in the namespace holding the pool's scrub lock, as another dfs-scrub would. */
let holder: { pid: number; nsPid: number; systemdPid: number; lock: string; victim: string; bytes: Buffer } | undefined;

const rig = once((): Rig => {
  const before = hostView();
  const removeAreaRoot = !fs.existsSync(AREA_ROOT);
  fs.mkdirSync(AREA_ROOT, { recursive: true, mode: 0o755 });
  const area = fs.mkdtempSync(path.join(AREA_ROOT, 'live_'));
  fs.chmodSync(area, 0o755);
  const tag = `dfs-systemd-live-${path.basename(area)}`;
  const cgroups = trackingHierarchies().map((h) => path.join(h, tag));
  saveCleanupState({ area, areaRoot: AREA_ROOT, removeAreaRoot, cgroups });
  startGuardian();

  // 1. make install into the test's directory (not /tmp: the namespace has its own).
  const prefix = path.join(area, 'prefix');
  const mk = runMake(['install', `PREFIX=${prefix}`]);
  must(mk, `make install PREFIX=${prefix}`);

  // 2. A pool, made and filled by the installed tools.
  const pool = path.join(area, 'pool');
  const tool = (name: string, args: string[]) =>
    must(spawnSync(path.join(prefix, 'bin', name), args, { cwd: area, env: CLEAN_ENV, encoding: 'utf8', timeout: UNIT_TIMEOUT_MS }), `${name} ${args.join(' ')}`);
  tool('dfs-pool', ['create', '--pool', pool, '--disks', '3', '--redundancy', 'rs:2+1']);
  const data = Buffer.alloc(300_000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
  fs.writeFileSync(path.join(area, 'data.bin'), data);
  tool('dfs-pool', ['put', path.join(area, 'data.bin'), 'data.bin', '--pool', pool]);
  const instance = must(spawnSync('systemd-escape', ['--path', pool], { encoding: 'utf8' }), 'systemd-escape --path').trim();
  if (!instance.includes('\\')) throw new Error(`systemd-live: instance ${instance} has no backslash escape: see AREA_ROOT`);

  // 3. systemd as PID 1 of its own namespaces.
  const confDir = path.join(area, 'conf');
  const etcDir = path.join(area, 'etc-systemd-system');
  fs.mkdirSync(confDir);
  fs.mkdirSync(etcDir);
  for (const u of MASKED) fs.symlinkSync('/dev/null', path.join(etcDir, u));
  const script = path.join(area, 'boot.sh');
  fs.writeFileSync(script, bootScript(area, cgroups));
  const log = fs.openSync(path.join(area, 'boot.log'), 'w');
  const unshare = spawn(
    'unshare',
    ['--pid', '--fork', '--kill-child', '--mount', '--uts', '--ipc', '--net', '--mount-proc', '--propagation', 'private', '--', 'sh', script],
    { stdio: ['ignore', log, log], env: CLEAN_ENV },
  );
  fs.closeSync(log);
  // Not waited for by the event loop: teardown (or the exit handler) ends it.
  unshare.unref();
  const unsharePid = unshare.pid;
  if (!unsharePid) throw new Error('systemd-live: could not start unshare');
  saveCleanupState({ ...cleanupState!, bootScript: script, unsharePid });
  const bootLog = () => {
    try {
      return fs.readFileSync(path.join(area, 'boot.log'), 'utf8');
    } catch {
      return '';
    }
  };
  const systemdPid = waitFor('systemd to exec as PID 1 of the namespace', BOOT_TIMEOUT_MS, () => {
    if (exited(unsharePid)) throw new Error(`systemd-live: unshare ended before systemd ran:\n${bootLog()}`);
    const c = childOf(unsharePid);
    try {
      return c !== undefined && fs.readFileSync(`/proc/${c}/cmdline`, 'utf8').startsWith(SYSTEMD) ? c : undefined;
    } catch {
      return undefined;
    }
  }, 50);
  saveCleanupState({ ...cleanupState!, systemdPid });
  const r: Rig = { area, prefix, pool, confDir, etcDir, instance, objectName: 'data.bin', objectSha: sha256(data), unshare, systemdPid, before };
  rigRef = r;
  // Up once systemctl can talk to it and the boot transaction is done.
  waitFor('systemd to finish booting basic.target', BOOT_TIMEOUT_MS, () => {
    if (exited(systemdPid)) throw new Error(`systemd-live: systemd exited while booting:\n${bootLog()}`);
    const s = ns(r, ['systemctl', 'is-system-running', '--wait'], 60_000).stdout.trim();
    return ['running', 'degraded'].includes(s) ? s : undefined;
  }, 250);
  return r;
});

/** Runs argv inside the namespace (nsenter into systemd's mount and PID namespaces). */
function ns(r: Pick<Rig, 'systemdPid'>, argv: string[], timeout = UNIT_TIMEOUT_MS, env: NodeJS.ProcessEnv = CLEAN_ENV): SpawnSyncReturns<string> {
  return spawnSync('nsenter', ['-t', String(r.systemdPid), '-m', '-p', '--', ...argv], {
    encoding: 'utf8',
    env,
    input: '',
    timeout,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
  });
}

const nsMust = (r: Rig, argv: string[], env?: NodeJS.ProcessEnv) => must(ns(r, argv, UNIT_TIMEOUT_MS, env), `(in the namespace) ${argv.join(' ')}`);

/** `systemctl show` of some properties, as a record. */
function show(r: Rig, unit: string, props: string[], env?: NodeJS.ProcessEnv): Record<string, string> {
  const out = nsMust(r, ['systemctl', 'show', ...props.flatMap((p) => ['-p', p]), unit], env);
  const rec: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) rec[line.slice(0, i)] = line.slice(i + 1);
  }
  return rec;
}

/** A one-word list value of `systemctl show`, which quotes words holding a backslash. */
const unquote = (v: string) => {
  const m = /^"(.*)"$/.exec(v);
  return m ? m[1].replace(/\\(.)/g, '$1') : v;
};

/** What the unit's invocation wrote to the journal (its processes' stdout and stderr). */
function invocationLog(r: Rig, unit: string): string {
  const id = show(r, unit, ['InvocationID']).InvocationID;
  assert.ok(id, `${unit} has an invocation ID`);
  return nsMust(r, ['journalctl', '--no-pager', '-o', 'cat', `_SYSTEMD_INVOCATION_ID=${id}`]);
}

function waitForLog(r: Rig, unit: string, re: RegExp): string {
  let last = '';
  try {
    return waitFor(`${re} in the journal of ${unit}`, 15_000, () => {
      last = invocationLog(r, unit);
      return re.test(last) ? last : undefined;
    }, 250);
  } catch (err) {
    throw new Error(`${(err as Error).message}; it says:\n${tail(last)}`);
  }
}

/** Where the units and their configs are, for a depth. */
const units = (r: Rig) => ({
  deepService: `dfs-scrub@${r.instance}.service`,
  lightService: `dfs-scrub-light@${r.instance}.service`,
  deepTimer: `dfs-scrub-weekly@${r.instance}.timer`,
  lightTimer: `dfs-scrub-light-hourly@${r.instance}.timer`,
  deepConf: path.join(r.confDir, `${r.instance}.conf`),
  lightConf: path.join(r.confDir, 'light', `${r.instance}.conf`),
});

/** dfs-scrub-schedule as the operator runs it (inside the namespace), with its unit and config dirs moved to private places. */
function schedule(r: Rig, args: string[]): SpawnSyncReturns<string> {
  const env = { ...CLEAN_ENV, DFS_SCHEDULE_UNIT_DIR: '/run/systemd/system', DFS_SCHEDULE_CONFIG_DIR: r.confDir };
  return ns(r, [path.join(r.prefix, 'bin', 'dfs-scrub-schedule'), '--pool', r.pool, ...args], UNIT_TIMEOUT_MS, env);
}

interface PassSummary {
  depth?: string;
  runner?: string;
  startedAt: string;
  exitCode: number;
  issuesFound: number;
  repairsSuccessful: number;
}

function scrubState(r: Rig): { lastPass?: PassSummary; lastLight?: PassSummary } {
  return JSON.parse(fs.readFileSync(path.join(r.pool, '.dynamicfs', 'scrub-state.json'), 'utf8'));
}

/** Every shard file of the pool, sorted. */
function shards(r: Rig): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && /^[0-9a-f]{64}\.\d+$/.test(e.name)) out.push(p);
    }
  };
  for (const disk of fs.readdirSync(path.join(r.pool, 'disks')).sort()) walk(path.join(r.pool, 'disks', disk, 'extents'));
  return out;
}

/** Starts a oneshot service and waits for it to end, as `systemctl start` does. */
function startService(r: Rig, unit: string): Record<string, string> {
  const start = ns(r, ['systemctl', 'start', unit]);
  const st = show(r, unit, ['Result', 'ExecMainCode', 'ExecMainStatus', 'ActiveState']);
  assert.is(start.status, 0, `systemctl start ${unit} exited ${start.status}: ${start.stderr}\n${JSON.stringify(st)}\n${tail(ns(r, ['journalctl', '--no-pager', '-n', '30', '-u', unit]).stdout)}`);
  return st;
}

// ---------------------------------------------------------------------------
// Teardown

let tornDown = false;

/** Powers systemd off (or kills the namespace), then removes our cgroups and files. Never throws; returns what went wrong. */
function teardown(): string[] {
  if (tornDown) return [];
  tornDown = true;
  const problems: string[] = [];
  const r = rigRef;
  if (holder && !exited(holder.pid)) ns({ systemdPid: holder.systemdPid }, ['kill', String(holder.nsPid)], 10_000);
  if (r && !exited(r.systemdPid)) {
    const off = ns(r, ['systemctl', 'start', '--no-block', '--job-mode=replace-irreversibly', 'poweroff.target'], 20_000);
    if (off.status !== 0) problems.push(`systemctl start poweroff.target: exit ${off.status}: ${off.stderr}`);
    for (let t = 0; t < 30_000 && !exited(r.unshare.pid!); t += 100) sleepMs(100);
    if (!exited(r.unshare.pid!)) problems.push('systemd did not power off within 30 s; killed');
  }
  if (cleanupState) {
    const c = spawnSync(process.execPath, ['-e', CLEANUP_JS, stateFile, 'now'], { encoding: 'utf8', timeout: 60_000 });
    if (c.status !== 0 || c.stderr.trim()) problems.push(`cleanup: exit ${c.status}: ${c.stderr.trim()}`);
  }
  return problems;
}

process.on('exit', () => {
  teardown();
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    teardown();
    process.kill(process.pid, sig);
  });
}

// ---------------------------------------------------------------------------
// The tests

test('make install into a prefix the namespace sees; systemd boots basic.target as PID 1 of a private namespace, loading the installed units', () => {
  if (!canRun()) return;
  const r = rig();
  const u = units(r);
  assert.is(nsMust(r, ['cat', '/proc/1/comm']).trim(), 'systemd', 'PID 1 of the namespace is systemd');
  assert.is.not(fs.readlinkSync(`/proc/${r.systemdPid}/ns/pid`), fs.readlinkSync('/proc/self/ns/pid'), 'a PID namespace of its own');
  for (const f of fs.readdirSync(path.join(r.prefix, 'lib', 'systemd', 'system'))) {
    assert.not.match(fs.readFileSync(path.join(r.prefix, 'lib', 'systemd', 'system', f), 'utf8'), /@[a-z_]+@/, `installed ${f}: placeholders filled`);
  }
  for (const [unit, template] of [
    [u.deepService, 'dfs-scrub@.service'],
    [u.lightService, 'dfs-scrub-light@.service'],
  ]) {
    const s = show(r, unit, ['LoadState', 'FragmentPath', 'ExecStart']);
    assert.is(s.LoadState, 'loaded', `${unit} loads: ${JSON.stringify(s)}`);
    assert.is(s.FragmentPath, `/run/systemd/system/${template}`);
    assert.ok(s.ExecStart.includes(`path=${r.prefix}/bin/dfs-scrub `), `${unit} runs the installed dfs-scrub: ${s.ExecStart}`);
  }
  // Nothing this machine enables is started in the namespace (basic.target, a private /etc/systemd/system).
  const hostEnabled = ['multi-user.target.wants', 'timers.target.wants']
    .flatMap((d) => (fs.existsSync(path.join('/etc/systemd/system', d)) ? fs.readdirSync(path.join('/etc/systemd/system', d)) : []))
    .filter((n) => !n.includes('@'));
  if (hostEnabled.length) {
    const active = ns(r, ['systemctl', 'is-active', ...hostEnabled]).stdout.trim().split('\n');
    const started = hostEnabled.filter((_, i) => active[i] === 'active');
    assert.equal(started, [], 'units this machine enables are not started in the namespace');
  }
});

test('dfs-scrub-schedule enables a weekly deep and an hourly light timer through the real systemctl: both active, each with a next elapse', () => {
  if (!canRun()) return;
  const r = rig();
  const u = units(r);
  const deep = schedule(r, ['--frequency', 'weekly', '--auto-repair', 'true']);
  assert.is(deep.status, 0, `schedule weekly: ${deep.stdout}${deep.stderr}`);
  assert.ok(deep.stdout.includes(`ran      systemctl enable --now '${u.deepTimer}'`) || deep.stdout.includes(`ran      systemctl enable --now ${u.deepTimer}`), deep.stdout);
  const light = schedule(r, ['--depth', 'light', '--frequency', 'hourly', '--auto-repair', 'true']);
  assert.is(light.status, 0, `schedule light hourly: ${light.stdout}${light.stderr}`);
  assert.match(light.stdout, /ran {6}systemctl daemon-reload/);
  // The records went to the private dir; each service takes its options from its own drop-in.
  assert.match(fs.readFileSync(u.deepConf, 'utf8'), /^DFS_SCRUB_ARGS="--repair --intensity low --when-busy wait"$/m);
  assert.match(fs.readFileSync(u.lightConf, 'utf8'), /^DFS_SCRUB_ARGS="--light --repair --intensity low --when-busy skip"$/m);
  assert.is(lexists('/etc/dynamicfs'), r.before.etcDynamicfs, 'nothing written to the machine\'s /etc/dynamicfs');
  for (const [service, args] of [
    [u.deepService, '--repair --intensity low --when-busy wait'],
    [u.lightService, '--repair --intensity low --when-busy skip'],
  ]) {
    const p = show(r, service, ['Environment', 'DropInPaths', 'EnvironmentFiles']);
    assert.ok(p.Environment.includes(`DFS_SCRUB_ARGS=${args}`), `${service}: ${p.Environment}`);
    // systemctl show quotes a path holding a backslash, and doubles it.
    assert.ok(unquote(p.DropInPaths).replace(/\\\\/g, '\\').includes(`${service}.d/50-dfs-scrub-schedule.conf`), `${service}: ${p.DropInPaths}`);
    assert.is(p.EnvironmentFiles ?? '', '', `${service} reads no EnvironmentFile`);
  }
  // Enabled (in the private /etc/systemd/system) and active now.
  const wants = fs.readdirSync(path.join(r.etcDir, 'timers.target.wants')).sort();
  assert.equal(wants, [u.lightTimer, u.deepTimer].sort(), 'enable linked both timers into timers.target.wants');
  assert.equal(ns(r, ['systemctl', 'is-enabled', u.deepTimer, u.lightTimer]).stdout.trim().split('\n'), ['enabled', 'enabled']);
  const active = ns(r, ['systemctl', 'is-active', u.deepTimer, u.lightTimer]);
  assert.is(active.status, 0, active.stdout + active.stderr);
  assert.equal(active.stdout.trim().split('\n'), ['active', 'active']);
  for (const [timer, service] of [
    [u.deepTimer, u.deepService],
    [u.lightTimer, u.lightService],
  ]) {
    const s = show(r, timer, ['ActiveState', 'SubState', 'Triggers', 'NextElapseUSecRealtime']);
    assert.equal([s.ActiveState, s.SubState, unquote(s.Triggers)], ['active', 'waiting', service], `${timer}: ${JSON.stringify(s)}`);
  }
  const listed = nsMust(r, ['systemctl', 'list-timers', '--all', '--no-pager', '--no-legend']);
  for (const t of [u.deepTimer, u.lightTimer]) {
    const line = listed.split('\n').find((l) => l.includes(t));
    assert.ok(line, `list-timers shows ${t}:\n${listed}`);
    assert.match(line!, /^\w{3} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/, `list-timers gives ${t} a next run: ${line}`);
  }
  // The next elapse, as systemd computed it in its own time zone (the calendars are local time) ...
  const local = (t: string) => show(r, t, ['NextElapseUSecRealtime']).NextElapseUSecRealtime;
  assert.match(local(u.deepTimer), /^Sun \d{4}-\d\d-\d\d 03:\d\d:\d\d /, 'weekly: Sundays, 03:00 plus up to 1 h');
  assert.match(local(u.lightTimer), /^\w{3} \d{4}-\d\d-\d\d \d\d:0[0-5]:\d\d /, 'hourly: on the hour plus up to 5 min');
  // ... and in UTC, to check how far ahead.
  const utc = (t: string) => {
    const v = show(r, t, ['NextElapseUSecRealtime'], { ...CLEAN_ENV, TZ: 'UTC' }).NextElapseUSecRealtime;
    const m = /^\w{3} (\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d) UTC$/.exec(v);
    assert.ok(m, `${t}: NextElapseUSecRealtime=${v}`);
    return Date.UTC(+m![1], +m![2] - 1, +m![3], +m![4], +m![5], +m![6]);
  };
  const now = Date.now();
  const nextDeep = utc(u.deepTimer);
  const nextLight = utc(u.lightTimer);
  assert.ok(nextDeep > now - 1000 && nextDeep <= now + (7 * 24 + 1) * 3600_000, `weekly next elapse within a week and an hour: ${new Date(nextDeep).toISOString()}`);
  assert.ok(nextLight > now - 1000 && nextLight <= now + 65 * 60_000, `hourly next elapse within 65 min: ${new Date(nextLight).toISOString()}`);
});

test('a deleted shard: dfs-scrub-light@ repairs it (Result=success, exit 1), the state records a scheduled light pass', () => {
  if (!canRun()) return;
  const r = rig();
  const u = units(r);
  const [victim] = shards(r);
  assert.ok(victim, 'the pool has shards');
  const bytes = fs.readFileSync(victim);
  fs.rmSync(victim);
  const t0 = Date.now() - 1000;
  const st = startService(r, u.lightService);
  assert.equal([st.Result, st.ExecMainCode, st.ExecMainStatus, st.ActiveState], ['success', '1', '1', 'inactive'], `exited 1 (problems found and all repaired), a success: ${JSON.stringify(st)}`);
  assert.ok(fs.existsSync(victim), `${victim} is back`);
  assert.ok(fs.readFileSync(victim).equals(bytes), 'rebuilt bit-identical');
  const light = scrubState(r).lastLight;
  assert.ok(light, 'scrub-state.json has lastLight');
  assert.equal([light!.depth, light!.runner, light!.exitCode, light!.repairsSuccessful], ['light', 'schedule', 1, 1], JSON.stringify(light));
  assert.ok(Date.parse(light!.startedAt) >= t0, `lastLight is this run's (${light!.startedAt})`);
  assert.match(invocationLog(r, u.lightService), /\(light, verify and repair, low\): repaired/);
});

test('dfs-scrub@ (deep) passes clean: Result=success, exit 0; the state records a scheduled deep pass; the object reads back', () => {
  if (!canRun()) return;
  const r = rig();
  const u = units(r);
  const t0 = Date.now() - 1000;
  const st = startService(r, u.deepService);
  assert.equal([st.Result, st.ExecMainCode, st.ExecMainStatus], ['success', '1', '0'], JSON.stringify(st));
  const pass = scrubState(r).lastPass;
  assert.ok(pass, 'scrub-state.json has lastPass');
  assert.equal([pass!.depth ?? 'deep', pass!.runner, pass!.exitCode, pass!.issuesFound], ['deep', 'schedule', 0, 0], JSON.stringify(pass));
  assert.ok(Date.parse(pass!.startedAt) >= t0, `lastPass is this run's (${pass!.startedAt})`);
  assert.match(invocationLog(r, u.deepService), /\(verify and repair, low\): clean/);
  const out = path.join(r.area, 'data.out');
  must(spawnSync(path.join(r.prefix, 'bin', 'dfs-pool'), ['get', r.objectName, out, '--pool', r.pool], { env: CLEAN_ENV, encoding: 'utf8' }), 'dfs-pool get');
  assert.is(sha256(fs.readFileSync(out)), r.objectSha);
});

test('another scrubber holds the pool: dfs-scrub-light@ skips (Result=success, exit 0, "skipped" in its journal) and changes nothing', async () => {
  if (!canRun()) return;
  const r = rig();
  const u = units(r);
  // A sleep in the namespace's PID namespace: the lock's PID must be one the service can see.
  const child = spawn('nsenter', ['-t', String(r.systemdPid), '-m', '-p', '--', 'sh', '-c', 'echo $$; exec sleep 300'], { stdio: ['ignore', 'pipe', 'inherit'], env: CLEAN_ENV });
  const nsPid = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    child.once('exit', () => reject(new Error(`the lock holder ended: ${out}`)));
    setTimeout(() => reject(new Error('the lock holder did not start')), 20_000).unref();
  });
  child.stdout!.removeAllListeners('data');
  child.stdout!.resume();
  // Not waited for by the event loop: the next test (or teardown) ends it.
  child.unref();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  assert.ok(nsPid > 1, `holder PID in the namespace: ${nsPid}`);
  const lock = path.join(r.pool, '.dynamicfs', 'scrub.lock');
  // src/scrub/lock.ts's format.
  fs.writeFileSync(lock, JSON.stringify({ pid: nsPid, owner: 'dfs-scrub', since: new Date().toISOString() }) + '\n', { mode: 0o644 });
  // Damage a light pass would repair, had it run.
  const victim = shards(r)[1];
  const bytes = fs.readFileSync(victim);
  fs.rmSync(victim);
  holder = { pid: child.pid!, nsPid, systemdPid: r.systemdPid, lock, victim, bytes };
  const before = fingerprintTree(r.pool);
  const st = startService(r, u.lightService);
  assert.equal([st.Result, st.ExecMainCode, st.ExecMainStatus], ['success', '1', '0'], JSON.stringify(st));
  const said = waitForLog(r, u.lightService, /skipped/);
  assert.match(said, new RegExp(`skipped: pool ${r.pool} is being scrubbed by dfs-scrub \\(PID ${nsPid}, `), said);
  assert.equal(diffFingerprints(before, fingerprintTree(r.pool)), [], 'the pool is unchanged');
  assert.not.ok(fs.existsSync(victim), 'the damage is left to the pass in hand');
});

test('another scrubber holds the pool: dfs-scrub@ (deep) waits, activating, then runs and repairs once the holder ends', () => {
  if (!canRun()) return;
  const r = rig();
  const u = units(r);
  assert.ok(holder && !exited(holder.pid), 'the lock holder of the previous test runs');
  const h = holder!;
  const start = ns(r, ['systemctl', 'start', '--no-block', u.deepService]);
  assert.is(start.status, 0, start.stderr);
  waitForLog(r, u.deepService, new RegExp(`waiting for dfs-scrub \\(PID ${h.nsPid}, `));
  sleepMs(3000); // beyond dfs-scrub's 2 s retry: still waiting
  const waiting = show(r, u.deepService, ['ActiveState', 'SubState']);
  assert.equal([waiting.ActiveState, waiting.SubState], ['activating', 'start'], `waits while the lock is held: ${JSON.stringify(waiting)}`);
  assert.not.ok(fs.existsSync(h.victim), 'nothing repaired while waiting');
  assert.is(JSON.parse(fs.readFileSync(h.lock, 'utf8')).pid, h.nsPid, 'the lock is still the holder\'s');
  const t0 = Date.now() - 1000;
  nsMust(r, ['kill', String(h.nsPid)]);
  waitFor('the holder to end', 10_000, () => exited(h.pid));
  const done = waitFor(`${u.deepService} to finish`, UNIT_TIMEOUT_MS, () => {
    const s = show(r, u.deepService, ['ActiveState', 'Result', 'ExecMainCode', 'ExecMainStatus']);
    return ['inactive', 'failed'].includes(s.ActiveState) ? s : undefined;
  }, 250);
  assert.equal([done.Result, done.ExecMainCode, done.ExecMainStatus], ['success', '1', '1'], `repaired: exit 1, a success: ${JSON.stringify(done)}`);
  assert.ok(fs.existsSync(h.victim) && fs.readFileSync(h.victim).equals(h.bytes), `${h.victim} rebuilt bit-identical`);
  assert.not.ok(fs.existsSync(h.lock), 'the dead holder\'s lock was taken over and released');
  const pass = scrubState(r).lastPass!;
  assert.equal([pass.runner, pass.exitCode, pass.repairsSuccessful], ['schedule', 1, 1], JSON.stringify(pass));
  assert.ok(Date.parse(pass.startedAt) >= t0, `the pass started after the holder ended (${pass.startedAt})`);
});

test('dfs-scrub-schedule --remove --depth light disables only the light timer; the deep timer stays active', () => {
  if (!canRun()) return;
  const r = rig();
  const u = units(r);
  const rm = schedule(r, ['--remove', '--depth', 'light']);
  assert.is(rm.status, 0, rm.stdout + rm.stderr);
  assert.match(rm.stdout, /Removed the light scrub schedule/);
  assert.match(rm.stdout, /ran {6}systemctl disable --now/);
  assert.match(rm.stdout, /The deep schedule stays/);
  assert.equal(ns(r, ['systemctl', 'is-active', u.lightTimer, u.deepTimer]).stdout.trim().split('\n'), ['inactive', 'active']);
  assert.equal(ns(r, ['systemctl', 'is-enabled', u.lightTimer, u.deepTimer]).stdout.trim().split('\n'), ['disabled', 'enabled']);
  assert.equal(fs.readdirSync(path.join(r.etcDir, 'timers.target.wants')), [u.deepTimer]);
  assert.not.ok(fs.existsSync(u.lightConf), 'the light config is removed');
  assert.ok(fs.existsSync(u.deepConf), 'the deep config stays');
  assert.is(show(r, u.lightService, ['DropInPaths']).DropInPaths, '', 'the light drop-in is removed');
  assert.ok(show(r, u.deepService, ['DropInPaths']).DropInPaths.includes('50-dfs-scrub-schedule.conf'), 'the deep drop-in stays');
  const listed = nsMust(r, ['systemctl', 'list-timers', '--no-pager', '--no-legend']);
  assert.ok(listed.includes(u.deepTimer) && !listed.includes(u.lightTimer), listed);
});

test('poweroff: systemd and its namespace end, and nothing is left: no process, mount, cgroup, file, nor change on the machine', () => {
  if (!canRun()) return;
  const r = rig();
  const cgroups = cleanupState!.cgroups;
  const problems = teardown();
  assert.equal(problems, [], problems.join('\n'));
  assert.ok(exited(r.systemdPid) && exited(r.unshare.pid!), 'systemd and unshare ended');
  const left: string[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(r.area)) left.push(`${e}: ${fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' ')}`);
    } catch {
      /* gone */
    }
  }
  assert.equal(left, [], 'no process naming the test directory');
  assert.not.ok(fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(r.area), 'no mount of the test directory here');
  assert.equal(cgroups.filter(lexists), [], 'our cgroups are removed');
  assert.not.ok(fs.existsSync(r.area), `${r.area} is removed`);
  assert.not.ok(fs.existsSync(stateFile), 'the cleanup state file is removed');
  const after = hostView();
  assert.equal(diffFingerprints(r.before.etcSystemd, after.etcSystemd), [], 'the machine\'s /etc/systemd/system is unchanged');
  assert.equal(after.dev, r.before.dev, `no ${DEV_LEAKS.join(', ')} made in the machine's /dev`);
  assert.is(after.etcDynamicfs, r.before.etcDynamicfs, '/etc/dynamicfs');
  assert.is(after.timers, r.before.timers, '/var/lib/systemd/timers');
  if (r.before.journal && after.journal) assert.equal(diffFingerprints(r.before.journal, after.journal), [], '/var/log/journal is unchanged');
});

test.run();
