import path from 'node:path';
import { usageError } from '../core/errors';
import { FREQUENCY_TABLE, Frequency, NamedFrequency } from './frequency';
import { formatSpan, ScheduleIntensity, scrubArgs } from './settings';
import type { Depth } from '../scrub/verify';

// Text of every systemd file a schedule involves. The shipped units in units/
// are exactly renderServiceTemplate() and renderFrequencyTimer() (a test holds
// them to it); per-pool files are rendered here too, so that --dry-run prints
// precisely what would be written. Deep and light passes of a pool are two
// services (dfs-scrub@ and dfs-scrub-light@), each with its own timer and
// config, so a pool can have both schedules and either runs on its own.

export const DEFAULT_UNIT_DIR = '/etc/systemd/system';
export const DEFAULT_CONFIG_DIR = '/etc/dynamicfs/scrub';
export const DROP_IN_NAME = '50-dfs-scrub-schedule.conf';

const unitPrefix = (depth: Depth) => (depth === 'light' ? 'dfs-scrub-light' : 'dfs-scrub');
export const serviceTemplate = (depth: Depth) => `${unitPrefix(depth)}@.service`;
export const serviceName = (depth: Depth, instance: string) => `${unitPrefix(depth)}@${instance}.service`;
export const timerTemplate = (depth: Depth, freq: NamedFrequency | 'custom') => `${unitPrefix(depth)}-${freq}@.timer`;
export const timerName = (depth: Depth, freq: NamedFrequency | 'custom', instance: string) => `${unitPrefix(depth)}-${freq}@${instance}.timer`;
/**
 * A pool's config, relative to the config dir. Light ones live in a
 * subdirectory: an escaped instance may itself end in ".light".
 */
export const configFileName = (depth: Depth, instance: string) => (depth === 'light' ? `light/${instance}.conf` : `${instance}.conf`);
export const dropInDir = (depth: Depth, instance: string) => `${serviceName(depth, instance)}.d`;

const HEADER_SHIPPED = '# Part of DynamicFS. Instance: the pool path escaped with `systemd-escape --path`.';

/**
 * The options a depth's service passes after `--pool %f` (and `--light`):
 * the schedule's dfs-scrub arguments, the depth being the service's own.
 */
export const serviceArgs = (depth: Depth, intensity: ScheduleIntensity, autoRepair: boolean) =>
  scrubArgs(depth, intensity, autoRepair).filter((a) => a !== '--light');

/** `Environment="NAME=VALUE"` for a unit file: specifiers and quotes escaped. */
const unitEnv = (name: string, value: string) => `Environment="${name}=${oneLine(value).replace(/%/g, '%%').replace(/[\\"]/g, (c) => `\\${c}`)}"`;

/**
 * The templated one-shot service the timers of a depth start. A pool's own
 * options come from the instance drop-in dfs-scrub-schedule writes, which
 * systemd finds by the unit's name: an EnvironmentFile= named with %i would
 * be a glob, whose backslashes never match an escaped path's `\x2d`.
 */
export function renderServiceTemplate(depth: Depth): string {
  const what =
    depth === 'light'
      ? `# A light pass: shard presence, sizes and headers, no payload read. Per-pool
# options (intensity, --repair) come from the drop-in dfs-scrub-schedule(8)
# --depth light writes (dfs-scrub-light@INSTANCE.service.d/); without one, the
# defaults below (a light verify at low intensity).
[Unit]
Description=DynamicFS light scrub of pool %f
`
      : `# Per-pool options (intensity, --repair) come from the drop-in
# dfs-scrub-schedule(8) writes (dfs-scrub@INSTANCE.service.d/); without one,
# the defaults below (a verify pass at low intensity).
[Unit]
Description=DynamicFS scrub of pool %f
`;
  return `${HEADER_SHIPPED}
${what}Documentation=man:dfs-scrub(8) man:dfs-scrub-schedule(8)
RequiresMountsFor=%f
After=local-fs.target

[Service]
Type=oneshot
${unitEnv('DFS_SCRUB_ARGS', serviceArgs(depth, 'low', false).join(' '))}
Environment=DFS_SCRUB_RUNNER=schedule
ExecStart=@bindir@/dfs-scrub --pool %f${depth === 'light' ? ' --light' : ''} $DFS_SCRUB_ARGS
# 1: problems found and all repaired. 32: cancelled by a stop or shutdown; the
# next timer run scrubs again. 4 (problems left) and 8 fail the unit.
SuccessExitStatus=1 32
TimeoutStartSec=infinity
TimeoutStopSec=5min
Nice=10
IOSchedulingClass=idle
CPUSchedulingPolicy=batch

# Hardening: the scrubber needs the pool (and its disks, see the drop-in
# dfs-scrub-schedule writes for disks outside the pool) and nothing else.
ProtectSystem=strict
ReadWritePaths=-%f
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes
PrivateNetwork=yes
PrivateIPC=yes
NoNewPrivileges=yes
PrivateMounts=yes
# Root, but only with what reading and repairing files owned by others needs;
# CAP_SYS_NICE lets --intensity high raise its priority above Nice=.
# CAP_SETUID/CAP_SETGID: a pool another user owns is scrubbed as that user
# (dfs-scrub(8), TRUST), so nothing planted in it can reach beyond it.
CapabilityBoundingSet=CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_SYS_NICE CAP_SETUID CAP_SETGID
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
# Not ProcSubset=pid: the scrubber reads /proc/pressure/io to back off.
ProtectProc=invisible
RestrictAddressFamilies=AF_UNIX
IPAddressDeny=any
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
KeyringMode=private
SystemCallArchitectures=native
SystemCallFilter=@system-service
# @resources stays allowed: setpriority/ioprio_set carry out --intensity.
SystemCallFilter=~@privileged
# ... but for becoming the pool's owner (setuid, setgid, setgroups).
SystemCallFilter=@setuid
SystemCallErrorNumber=EPERM
# Node's JIT needs writable+executable memory.
MemoryDenyWriteExecute=no
# Repaired shards must stay readable by the pool's other users, like the rest.
UMask=0022
`;
}

function timerText(depth: Depth, description: string, calendar: string, delaySec: number, header: string): string {
  return `${header}
[Unit]
Description=${description}
Documentation=man:dfs-scrub-schedule(8) man:dfs-scrub(8)

[Timer]
OnCalendar=${calendar}
RandomizedDelaySec=${formatSpan(delaySec)}
# Runs missed while the machine was off start at the next boot.
Persistent=true
Unit=${serviceName(depth, '%i')}

[Install]
WantedBy=timers.target
`;
}

const scrubWord = (depth: Depth) => (depth === 'light' ? 'DynamicFS light scrub' : 'DynamicFS scrub');

/** A shipped per-frequency timer template: dfs-scrub-<freq>@.timer, or dfs-scrub-light-<freq>@.timer. */
export function renderFrequencyTimer(freq: NamedFrequency): string {
  const info = FREQUENCY_TABLE[freq];
  const what = `${freq[0].toUpperCase()}${freq.slice(1)} ${scrubWord(info.shippedFor)} of pool %f (${info.summary})`;
  return timerText(info.shippedFor, what, info.calendar, info.randomizedDelaySec, HEADER_SHIPPED);
}

/** A pool's generated timer (a custom calendar, or no shipped template): dfs-scrub[-light]-custom@<instance>.timer. */
export function renderCustomTimer(depth: Depth, pool: string, freq: Frequency, delaySec: number): string {
  const header = `# Generated by dfs-scrub-schedule(8) for pool ${oneLine(pool)}; change it with that command.`;
  const kind = freq.name === 'custom' ? 'custom schedule' : `${freq.name}, ${formatSpan(delaySec)} random delay`;
  return timerText(depth, `${scrubWord(depth)} of pool %f (${kind})`, freq.calendar, delaySec, header);
}

export interface ScrubConfig {
  pool: string;
  depth: Depth;
  timer: string;
  frequency: NamedFrequency | 'custom';
  calendar: string;
  randomizedDelaySec: number;
  intensity: ScheduleIntensity;
  autoRepair: boolean;
}

/** Double-quoted value for an EnvironmentFile: \\ \" \$ \` are its escapes (systemd.exec(5)). */
const envQuote = (v: string) => `"${v.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`;

function oneLine(text: string): string {
  if (/[\n\r]/.test(text)) throw usageError(`--pool ${JSON.stringify(text)}: a path with a line break cannot be scheduled`);
  return text;
}

/** The EnvironmentFile the service reads: DFS_SCRUB_ARGS, plus the settings for --list. */
export function renderScrubConfig(c: ScrubConfig): string {
  const vars: [string, string][] = [
    ['DFS_SCRUB_POOL', oneLine(c.pool)],
    ['DFS_SCRUB_DEPTH', c.depth],
    ['DFS_SCRUB_TIMER', c.timer],
    ['DFS_SCRUB_FREQUENCY', c.frequency],
    ['DFS_SCRUB_CALENDAR', c.calendar],
    ['DFS_SCRUB_RANDOMIZED_DELAY_SEC', String(c.randomizedDelaySec)],
    ['DFS_SCRUB_INTENSITY', c.intensity],
    ['DFS_SCRUB_AUTO_REPAIR', String(c.autoRepair)],
    ['DFS_SCRUB_ARGS', scrubArgs(c.depth, c.intensity, c.autoRepair).join(' ')],
  ];
  return (
    `# DynamicFS ${c.depth} scrub schedule of pool ${oneLine(c.pool)}: what dfs-scrub-schedule --list shows;\n` +
    `# ${serviceTemplate(c.depth)} takes DFS_SCRUB_ARGS from the instance drop-in written beside it.\n` +
    `# Written by dfs-scrub-schedule(8); change it with that command, not by hand.\n` +
    vars.map(([k, v]) => `${k}=${envQuote(v)}`).join('\n') +
    '\n'
  );
}

/** Reads an EnvironmentFile written by renderScrubConfig (and simple hand edits). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2].trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    out[m[1]] = v;
  }
  return out;
}

/** A path for a unit file setting: specifiers escaped, quoted when it has spaces. */
function unitPath(p: string): string {
  const s = oneLine(p).replace(/%/g, '%%');
  return /[\s"'\\]/.test(s) ? `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"` : s;
}

export interface DropInNeeds {
  pool: string;
  /** What the service passes dfs-scrub after `--pool %f` (see serviceArgs). */
  args: string[];
  /** Disk directories outside the pool directory: the service must be able to write them. */
  outsideDisks: string[];
}

/** The per-pool service drop-in: the schedule's options, extra writable disks. */
export function renderServiceDropIn(n: DropInNeeds): string {
  const lines = [`# Generated by dfs-scrub-schedule(8) for pool ${oneLine(n.pool)}; change it with that command.`];
  if (n.outsideDisks.length > 0) {
    lines.push('[Unit]', `RequiresMountsFor=${n.outsideDisks.map(unitPath).join(' ')}`, '');
  }
  lines.push('[Service]', unitEnv('DFS_SCRUB_ARGS', n.args.join(' ')));
  if (n.outsideDisks.length > 0) lines.push(`ReadWritePaths=${n.outsideDisks.map((d) => `-${unitPath(d)}`).join(' ')}`);
  return lines.join('\n') + '\n';
}

/** Disks of the pool that are not inside the pool directory. */
export function disksOutside(root: string, disks: string[]): string[] {
  const inside = (d: string) => d === root || d.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
  return [...new Set(disks.filter((d) => !inside(d)))].sort();
}
