#!/usr/bin/env node
import fs from 'node:fs';
import path from 'node:path';
import kleur from 'kleur';
import { openPool, Pool } from '../core/pool';
import { DfsError, EXIT, fsFailure, operationalError, usageError } from '../core/errors';
import { openAppend } from '../core/safe-fs';
import { atMostBytes, MAX_ID, parseBoolean, parseDecimal, parseDuration, parseWholeNumber } from '../core/units';
import { stateDir } from '../core/layout';
import { INTENSITIES, parseIntensity, parseRate } from '../scrub/pacing';
import { pidAlive, DaemonSettings } from '../daemon/info';
import { controlSocketPath } from '../daemon/socket-path';
import { NoDaemon, sendControl } from '../daemon/control-client';
import { ControlRequest, DaemonStatus, PassView } from '../daemon/protocol';
import { holdPhrase, persistedStatus, rateText } from '../daemon/status';
import { MIN_LIGHT_INTERVAL_S } from '../daemon/light-schedule';
import { underSystemd } from '../daemon/notify';
import { log } from '../daemon/log';
import { BOOLEAN_CHOICES, jsonOption, poolOption, ProgramSpec, requirePool, runProgram, VERSION } from './program';
import { bytes, duration, printable, printJson } from './format';
import { DAEMON_NODE_FLAGS, daemonEnv } from './node-flags';

interface Opts {
  pool?: string;
  json?: boolean;
  intensity?: string;
  'auto-repair'?: unknown;
  'max-rate'?: string;
  foreground?: boolean;
  deadline?: string;
  'pass-interval'?: string;
  'light-interval'?: string;
  'io-pressure-limit'?: string;
  'io-pressure-floor'?: string;
  'socket-group'?: string;
}

export const DAEMON_LOG = 'scrubd.log';
const READY_TIMEOUT_MS = 30_000;

/** Settings given on the command line; absent ones keep their persisted values. */
function overridesFrom(opts: Opts): Partial<DaemonSettings> {
  const o: Partial<DaemonSettings> = {};
  if (opts.intensity !== undefined) o.intensity = parseIntensity(opts.intensity);
  if (opts['auto-repair'] !== undefined) o.autoRepair = parseBoolean(opts['auto-repair'], '--auto-repair');
  // 'off' clears a persisted setting (an explicit undefined overrides the saved value).
  const off = (v: unknown) => v === 'off';
  if (opts['max-rate'] !== undefined) o.maxRate = off(opts['max-rate']) ? undefined : atMostBytes(parseRate(opts['max-rate']), opts['max-rate'], '--max-rate');
  if (opts.deadline !== undefined) {
    o.deadlineSeconds = off(opts.deadline) ? undefined : parseDuration(opts.deadline, '--deadline');
    if (o.deadlineSeconds !== undefined && o.deadlineSeconds < 60) throw usageError(`--deadline ${opts.deadline}: must be at least a minute`);
  }
  if (opts['pass-interval'] !== undefined) o.passIntervalSeconds = off(opts['pass-interval']) ? undefined : parseDuration(opts['pass-interval'], '--pass-interval');
  if (opts['light-interval'] !== undefined) o.lightIntervalSeconds = lightInterval(opts['light-interval']);
  if (opts['io-pressure-limit'] !== undefined) o.ioPressureLimit = parseDecimal(opts['io-pressure-limit'], '--io-pressure-limit', 0, 100, 'a percentage (0: off)');
  if (opts['io-pressure-floor'] !== undefined) o.ioPressureFloor = atMostBytes(parseRate(opts['io-pressure-floor'], '--io-pressure-floor'), opts['io-pressure-floor'], '--io-pressure-floor');
  return o;
}

/** --light-interval: a duration of at least a second, or 0 or off for no light passes. */
function lightInterval(text: unknown): number | undefined {
  if (text === 'off') return undefined;
  const seconds = parseDuration(text, '--light-interval');
  if (seconds === 0) return undefined;
  if (seconds < MIN_LIGHT_INTERVAL_S) throw usageError(`--light-interval ${JSON.stringify(String(text))}: at least ${MIN_LIGHT_INTERVAL_S}s between light passes (0 or off: none)`);
  return seconds;
}

/** A gid, 0 to 2^32-2, given as a number or as a group name looked up in /etc/group. */
function socketGroup(opts: Opts): number | undefined {
  const g = opts['socket-group'];
  if (g === undefined) return undefined;
  // A number, or what is not a name at all (repeated, empty): parseWholeNumber checks or refuses it.
  if (typeof g !== 'string' || /^\d*$/.test(g)) return parseWholeNumber(g, '--socket-group', 0, MAX_ID);
  const line = fs.readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.split(':')[0] === g);
  const gid = line?.split(':')[2];
  if (gid === undefined || !/^\d{1,10}$/.test(gid) || Number(gid) > MAX_ID) throw usageError(`--socket-group ${JSON.stringify(g)}: no such group`);
  return Number(gid);
}

/** The PID of a live scrubber holding the pool, if any. */
function holder(root: string): { pid: number; owner: string } | undefined {
  // Required here: the lock module loads node:crypto (~5 ms), which the verbs never need.
  const { readLock }: typeof import('../scrub/lock') = require('../scrub/lock');
  const h = readLock(root);
  return h && pidAlive(h.pid) ? h : undefined;
}

async function start(opts: Opts): Promise<number> {
  const root = path.resolve(requirePool(opts));
  const overrides = overridesFrom(opts);
  const group = socketGroup(opts);
  const pool = openPool(root);
  const h = holder(pool.root);
  if (h) throw operationalError(`pool ${pool.root} is already held by ${h.owner} (PID ${h.pid})`);
  if (opts.foreground || underSystemd()) return runForeground(pool.root, overrides, group);
  return detach(pool.root);
}

async function runForeground(root: string, overrides: Partial<DaemonSettings>, group: number | undefined): Promise<number> {
  // Required here, not at the top: status and the other verbs answer without loading the pass code (issue 12).
  const { ScrubDaemon }: typeof import('../daemon/daemon') = require('../daemon/daemon');
  const daemon = new ScrubDaemon({ pool: root, overrides, socketGroup: group });
  process.on('SIGTERM', () => daemon.stop());
  process.on('SIGINT', () => daemon.stop());
  process.on('SIGHUP', () => daemon.reload());
  try {
    return await daemon.run();
  } catch (err) {
    if (err instanceof DfsError) log('error', err.message);
    throw err;
  }
}

/** What the log gained since `start` (at most 64 KiB of it, read like any state file). */
function readLogTail(file: string, start: number): string {
  try {
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    try {
      const len = Math.max(0, Math.min(fs.fstatSync(fd).size - start, 64 * 1024));
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, start);
      return buf.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

/** From a shell: run ourselves in the background, wait until it serves, print its PID. */
async function detach(root: string): Promise<number> {
  const logFile = path.join(stateDir(root), DAEMON_LOG);
  // Where the daemon will listen is checked before it is started (a runtime directory someone else made is refused).
  const socket = controlSocketPath(root);
  let out: number;
  try {
    // Never through a link or onto a FIFO planted at the log's name.
    out = openAppend(logFile);
  } catch (err) {
    throw fsFailure('cannot open the daemon log', logFile, err);
  }
  const logStart = fs.fstatSync(out).size;
  const args = process.argv.slice(2).filter((a) => a !== '--foreground');
  // Only the daemon's own flags: an --inspect given to this short command must not stick to the daemon.
  const { spawn }: typeof import('node:child_process') = require('node:child_process');
  const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, process.argv[1], ...args, '--foreground'], {
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...daemonEnv(process.env), NOTIFY_SOCKET: '', INVOCATION_ID: '' },
  });
  fs.closeSync(out);
  let exited: number | null = null;
  child.on('exit', (code) => (exited = code ?? EXIT.OPERATIONAL));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited !== null) {
      // Another start may have won the race: name the daemon that holds the pool.
      const h = holder(root);
      if (h) throw operationalError(`pool ${root} is already held by ${h.owner} (PID ${h.pid})`);
      // The log is shared with other daemons' lines: only our child's own error line counts.
      const ours = readLogTail(logFile, logStart).split('\n').filter((l) => l.startsWith('dfs-scrubd: ')).pop();
      throw new DfsError(exited === EXIT.USAGE ? EXIT.USAGE : EXIT.OPERATIONAL, `daemon exited before it was ready (exit ${exited})${ours ? `: ${ours.slice(12)}` : ''} (log: ${logFile})`);
    }
    try {
      const r = await sendControl(socket, { cmd: 'status' }, 2000);
      if (r.ok && r.status.pid === child.pid) {
        child.unref();
        console.log(String(child.pid));
        return EXIT.OK;
      }
    } catch {
      // not serving yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.unref();
  throw operationalError(`daemon (PID ${child.pid}) did not become ready within ${READY_TIMEOUT_MS / 1000} s (log: ${logFile})`);
}

/** The pool --pool names, opened: a verb to a pool that does not open fails here, naming what is wrong. */
const poolOf = (opts: Opts): Pool => openPool(path.resolve(requirePool(opts)));

/** Sends a verb; exit 3 with a clear message when no daemon serves the pool. */
async function control(pool: Pool, req: ControlRequest): Promise<DaemonStatus> {
  const root = pool.root;
  try {
    const r = await sendControl(controlSocketPath(root), req);
    if (!r.ok) throw operationalError(`daemon refused ${req.cmd}: ${r.error}`);
    return r.status;
  } catch (err) {
    if (err instanceof NoDaemon) throw new DfsError(EXIT.NOT_RUNNING, `no scrub daemon is running for pool ${root}`);
    throw err;
  }
}

const DEPTH_MEANS = { deep: 'every byte read and proven', light: "each shard's type, size and header; payloads not read" } as const;

/** The Status: line: the guide's words, and what the daemon is doing when it is not simply scrubbing. */
function statusWord(s: DaemonStatus): string {
  if (!s.running) return 'Stopped';
  if (s.paused) return 'Paused';
  if (s.pass?.depth === 'light') return 'Running (light scrub in progress)';
  return s.phase === 'waiting' ? 'Running (idle between passes)' : 'Running';
}

/** Progress of a pass: a deep one's in bytes too; a light one reads headers only. */
function passProgress(p: PassView): string {
  const extents = `${printable(p.extentsDone)}/${printable(p.extentsTotal)} extents`;
  return `${p.percent.toFixed(1)}% (${p.depth === 'light' ? extents : `${extents}, ${bytes(p.bytesDone)} of ${bytes(p.bytesTotal)}`})`;
}

/** Why the daemon is held back; under I/O pressure, to what rate and what that costs. */
function throttledText(s: DaemonStatus): string {
  const p = s.ioPressure;
  const hold = s.throttled === 'io pressure' && p ? holdPhrase(p.holding, p.floorBytesPerSecond) : undefined;
  if (!hold) return printable(s.throttled ?? 'no');
  return `${hold}${p!.pressure === null ? '' : ` (some avg10 ${p!.pressure}% > ${p!.limit}%)`}`;
}

function backOffSetting(s: DaemonStatus): string {
  const p = s.ioPressure;
  return p ? `over ${p.limit}% io pressure, down to a floor of ${rateText(p.floorBytesPerSecond)}` : 'off';
}

function renderStatus(s: DaemonStatus): string {
  const lines = [
    'Scrub Daemon Status',
    '==================',
    `Status: ${statusWord(s)}`,
    `Running: ${s.running}`,
    `Paused:  ${s.paused}`,
    '',
    'Metrics:',
    `  Extents scanned:    ${printable(s.counters.extentsScanned)}`,
    `  Issues found:       ${printable(s.counters.issuesFound)}`,
    `  Repairs triggered:  ${printable(s.counters.repairsAttempted)}`,
    `  I/O bytes:          ${printable(s.counters.bytesRead)}`,
    '',
    'Settings:',
    `  Intensity:          ${printable(s.intensity)}`,
    `  Auto-repair:        ${s.autoRepair}`,
    `  Max rate:           ${s.maxRate ? `${bytes(s.maxRate)}/s` : 'none'}`,
    `  Throttled:          ${throttledText(s)}`,
    `  I/O back-off:       ${backOffSetting(s)}`,
    `  Light interval:     ${s.lightIntervalSeconds ? duration(s.lightIntervalSeconds) : 'off'}`,
  ];
  if (s.deadline) lines.push(`  Deadline:           ${duration(s.deadline.seconds)} per pass${s.deadline.achievable ? '' : kleur.red(' (cannot be met at this intensity)')}`);
  lines.push('', 'Pass:');
  if (s.pass) {
    const light = s.pass.depth === 'light';
    lines.push(`  Depth:              ${s.pass.depth} (${DEPTH_MEANS[s.pass.depth]})`, `  Progress:           ${passProgress(s.pass)}`);
    // A light pass reads 128 bytes a shard: its byte rate says nothing.
    if (!light) lines.push(`  Rate:               ${bytes(s.pass.bytesPerSecond)}/s`);
    lines.push(`  ETA:                ${s.pass.etaSeconds === null ? '?' : duration(s.pass.etaSeconds)}`);
    if (s.suspendedPass) lines.push(`  Deep pass on hold:  ${passProgress(s.suspendedPass)}, resumes after the light pass`);
    else if (light && s.nextPassAt) lines.push(`  Next deep pass:     ${printable(s.nextPassAt)}`);
  } else lines.push(`  ${s.nextPassAt ? `next pass at ${printable(s.nextPassAt)}` : 'none in progress'}`);
  lines.push(
    `  Last completed:     ${s.lastPass ? `${printable(s.lastPass.finishedAt)} (${printable(s.lastPass.outcome)}, ${duration(s.lastPass.durationSeconds)}, exit ${printable(s.lastPass.exitCode)})` : 'never'}`,
  );
  if (s.lastLight) lines.push(`  Last light scrub:   ${printable(s.lastLight.finishedAt)} (${printable(s.lastLight.outcome)}, ${duration(s.lastLight.durationSeconds)}, exit ${printable(s.lastLight.exitCode)})`);
  if (s.nextLightAt) {
    const due = Date.parse(s.nextLightAt) <= Date.now() ? (s.paused ? ' (due: runs at resume)' : ' (due)') : '';
    lines.push(`  Next light scrub:   ${printable(s.nextLightAt)}${due}`);
  }
  if (s.running) lines.push(`  PID:                ${s.pid}`);
  for (const r of s.resilver ?? []) {
    lines.push(`  Resilver:           disk ${printable(r.disk)} (${printable(r.path)}) ${r.percent === null ? 'waiting for a repair pass' : `${r.percent.toFixed(1)}%, ETA ${r.etaSeconds === null ? '?' : duration(r.etaSeconds)}`}`);
  }
  return lines.join('\n');
}

async function status(opts: Opts): Promise<number> {
  let s: DaemonStatus;
  let code: number = EXIT.OK;
  // Opened once: with no daemon, the persisted status is read from the same pool.
  const pool = poolOf(opts);
  try {
    s = await control(pool, { cmd: 'status' });
  } catch (err) {
    if (!(err instanceof DfsError) || err.code !== EXIT.NOT_RUNNING) throw err;
    s = persistedStatus(pool);
    code = EXIT.NOT_RUNNING;
  }
  if (opts.json) printJson({ status: s.running ? (s.paused ? 'paused' : 'running') : 'stopped', ...s });
  else console.log(renderStatus(s));
  return code;
}

async function verb(opts: Opts, req: ControlRequest, done: (s: DaemonStatus) => string): Promise<number> {
  const s = await control(poolOf(opts), req);
  if (opts.json) printJson(s);
  else console.log(done(s));
  return EXIT.OK;
}

async function stop(opts: Opts): Promise<number> {
  const s = await control(poolOf(opts), { cmd: 'stop' });
  const until = Date.now() + 120_000;
  while (pidAlive(s.pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  if (pidAlive(s.pid)) throw operationalError(`daemon PID ${s.pid} is still stopping after 120 s`);
  if (opts.json) printJson({ stopped: true, pid: s.pid });
  else console.log(`stopped scrub daemon (PID ${s.pid}) for ${printable(s.pool)}`);
  return EXIT.OK;
}

const startOptions = [
  { flag: '--intensity', value: 'LEVEL', choices: INTENSITIES, description: 'low, medium, high or max (default: persisted, else low)' },
  { flag: '--auto-repair', value: 'BOOL', choices: BOOLEAN_CHOICES, description: 'true or false: repair what passes find (default true)' },
  { flag: '--max-rate', value: 'BYTES', description: 'Cap reads at BYTES per second (K, M, G suffixes); off clears a saved cap' },
  { flag: '--foreground', description: 'Stay in the foreground (implied under systemd)' },
  { flag: '--deadline', value: 'DURATION', description: 'Pace each pass to finish within DURATION, e.g. 7d; off clears it' },
  { flag: '--pass-interval', value: 'DURATION', description: 'Start passes no more often than every DURATION (default 60s)' },
  { flag: '--light-interval', value: 'DURATION', description: 'Run a light pass every DURATION between deep ones, e.g. 1h (default off; 0 or off: none)' },
  { flag: '--io-pressure-limit', value: 'PCT', description: 'Slow to the floor while /proc/pressure/io some avg10 exceeds PCT (0 = off; default 20)' },
  { flag: '--io-pressure-floor', value: 'BYTES', description: 'Under that pressure keep verifying at up to BYTES per second, never 0 (K, M, G suffixes; default 16M); a --deadline that needs more gets its pace' },
  { flag: '--socket-group', value: 'GROUP', description: 'Let GROUP use the control socket (mode 0660)' },
];

export const daemonProgram: ProgramSpec = {
  runsAsPoolOwner: true,
  name: 'dfs-scrubd',
  version: VERSION,
  description: 'The background scrub daemon and its control verbs',
  common: [poolOption, jsonOption],
  commands: [
    {
      usage: 'start',
      description: 'Start the daemon (detaches from a shell; foreground under systemd or with --foreground)',
      options: startOptions,
      examples: ['start --pool /tmp/pool --intensity low'],
      action: start,
    },
    { usage: 'status', description: 'Show the daemon and pass status (exit 3 when no daemon runs)', options: [], action: status },
    { usage: 'pause', description: 'Pause scrubbing (persisted: stays paused across restarts)', options: [], action: (o: Opts) => verb(o, { cmd: 'pause' }, () => 'paused') },
    { usage: 'resume', description: 'Resume scrubbing', options: [], action: (o: Opts) => verb(o, { cmd: 'resume' }, () => 'resumed') },
    {
      usage: 'set-intensity',
      description: 'Change the intensity; takes effect at the next operation',
      options: [{ flag: '--intensity', value: 'LEVEL', choices: INTENSITIES, description: 'low, medium, high or max' }],
      action: (o: Opts) => {
        if (o.intensity === undefined) throw usageError('set-intensity needs --intensity low|medium|high|max');
        return verb(o, { cmd: 'set-intensity', intensity: parseIntensity(o.intensity) }, (s) => `intensity ${s.intensity}`);
      },
    },
    { usage: 'stop', description: 'Stop the daemon: it finishes the operation in hand and saves its place', options: [], action: stop },
  ],
};

/** Runs dfs-scrubd on argv as process.argv has it; the umbrella runs its commands here, with this executable's own copy of the core. */
export const main = (argv?: string[]) => runProgram(daemonProgram, argv);

if (require.main === module) void main();
