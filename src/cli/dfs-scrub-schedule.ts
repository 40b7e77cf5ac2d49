#!/usr/bin/env node
import kleur from 'kleur';
import { usageError } from '../core/errors';
import { BOOLEAN_CHOICES, jsonOption, poolOption, ProgramSpec, runProgram, VERSION } from './program';
import { INTENSITIES } from '../scrub/pacing';
import { applySchedule, ApplyResult, listSchedules, ListEntry, removeSchedule, RemoveResult, resolveWhere } from '../schedule/manage';
import { DEPTHS, formatSpan, parseDepth, scrubArgs } from '../schedule/settings';
import type { Depth } from '../scrub/verify';
import type { Intensity } from '../scrub/pacing';
import { NAMED_FREQUENCIES } from '../schedule/frequency';
import { parseBoolean } from '../core/units';
import { requirePool } from '../schedule/request';
import { startRunner } from '../schedule/runner';
import { shellWords } from '../schedule/plan';
import { printable } from './format';

// dfs-scrub-schedule: parse, call src/schedule, print. Also `dynamicfs
// scrub-schedule` (the umbrella imports scheduleProgram).

interface Opts {
  _: string[];
  pool?: unknown;
  depth?: unknown;
  frequency?: unknown;
  intensity?: unknown;
  'auto-repair'?: unknown;
  'randomized-delay'?: unknown;
  'dry-run'?: unknown;
  list?: unknown;
  remove?: unknown;
  backend?: unknown;
  'unit-dir'?: unknown;
  'config-dir'?: unknown;
  json?: unknown;
}

const out = (s = '') => process.stdout.write(s + '\n');

// A pool path may hold characters a terminal acts on (its owner chose it):
// prose shows it through printable(). Unit names and file paths are
// systemd-escaped, full of backslashes meant to be copied as they are: those,
// commands and file contents are shown exactly unless they hold such
// characters, and then escaped (commands as bash $'...' words, still runnable).
const hostile = (s: string) => printable(s) !== s.replace(/\\/g, '\\\\');
const safe = (s: string) => (hostile(s) ? printable(s) : s);
const shellLine = (argv: string[]) => argv.map((a) => (hostile(a) ? `$'${printable(a).replace(/'/g, "\\'")}'` : shellWords([a]))).join(' ');
const cmd = (argv: string[]) => `  ${shellLine(argv)}`;

/** A dry run shows every file in full (`==> path <==` then the exact content) and every command. */
function printDryRun(r: { files?: ApplyResult['files']; removes: string[]; commands: string[][]; commandsNotRun: string[][] }): void {
  out(kleur.yellow('Dry run: nothing is written or removed, and no command is run.') + '\n');
  for (const f of r.files ?? []) {
    const escaped = hostile(f.content.replace(/\n/g, ''));
    out(kleur.bold(`==> ${safe(f.path)} <==`) + kleur.dim(` (would write, mode ${f.mode}${escaped ? '; control characters shown escaped' : ''})`));
    process.stdout.write(escaped ? f.content.split('\n').map(printable).join('\n') : f.content);
    out();
  }
  for (const p of r.removes) out(kleur.bold(`Would remove ${safe(p)}`));
  if (r.commands.length) out(kleur.bold('Would run:') + '\n' + r.commands.map(cmd).join('\n'));
  printNotRun(r.commandsNotRun);
}

function printNotRun(commands: string[][]): void {
  if (commands.length === 0) return;
  out(kleur.bold('Not run (--unit-dir/--config-dir stage the files); run these once the files are installed:'));
  out(commands.map(cmd).join('\n'));
}

/** A real run says what it did, one line per file and command. */
function printDone(r: { files?: ApplyResult['files']; removes: string[]; commands: string[][]; commandsNotRun: string[][] }): void {
  for (const f of r.files ?? []) out(`  wrote    ${safe(f.path)}`);
  for (const p of r.removes) out(`  removed  ${safe(p)}`);
  for (const c of r.commands) out(`  ran      ${shellLine(c)}`);
  printNotRun(r.commandsNotRun);
}

function printApply(r: ApplyResult): void {
  const delay = r.randomizedDelaySec ? ` (each started up to ${formatSpan(r.randomizedDelaySec)} later at random)` : '';
  const repair = `intensity ${r.intensity}, auto-repair ${r.autoRepair ? 'on' : 'off'}`;
  const how = r.backend === 'systemd' ? `systemd timer ${safe(String(r.timer))}` : 'node-cron runner';
  const runner = shellLine(['dfs-scrub-schedule', 'run', '--pool', r.pool]);
  if (r.dryRun) {
    printDryRun(r);
    if (r.shippedTemplate) {
      out(kleur.bold(`Timer ${safe(String(r.timer))}`) + ` is the shipped template ${r.shippedTemplate} (no file written):`);
      process.stdout.write(r.timerText ?? '');
    }
  } else {
    out(kleur.green(`Scheduled ${printable(r.frequency)} ${depthWord(r.depth)} of ${printable(r.pool)}`) + `: ${printable(r.calendar)}; ${repair}; ${how}`);
    printDone(r);
  }
  if (r.backend === 'cron') {
    out(kleur.bold('node-cron entry:') + ` ${printable(r.cron)}${r.utc ? ' (UTC)' : ' (local time)'}  ` +
      shellLine(['dfs-scrub', '--pool', r.pool, ...scrubArgs(r.depth, r.intensity as Intensity, r.autoRepair)]));
    out(`Fired by ${kleur.bold(runner)} (foreground; e.g. a container entrypoint), which must be running.`);
  }
  out(kleur.bold('Next runs') + delay + ':');
  for (const t of r.next) out(`  ${t}`);
}

function printRemove(r: RemoveResult): void {
  const kept = r.kept.map((d) => `the ${d} schedule stays (remove it with --depth ${d})`).join('; ');
  if (!r.found) {
    process.stderr.write(`dfs-scrub-schedule: no ${r.depth} schedule for pool ${printable(r.pool)}; nothing to remove${kept ? `; ${kept}` : ''}\n`);
    return;
  }
  if (r.dryRun) return printDryRun(r);
  out(kleur.green(`Removed the ${depthWord(r.depth)} schedule of ${printable(r.pool)}`));
  printDone(r);
  if (kept) out(kept[0].toUpperCase() + kept.slice(1) + '.');
}

function printList(entries: ListEntry[]): void {
  if (entries.length === 0) {
    out('No scrub schedules.');
    return;
  }
  // A cron schedule and its run record live in the pool: every field is escaped.
  for (const e of entries) {
    out(kleur.bold(printable(e.pool)) + ` (${e.depth}; ${printable(e.backend)}${e.timer ? `, ${safe(String(e.timer))}` : ''})`);
    out(`  frequency  ${printable(e.frequency)}: ${printable(e.calendar)}${e.randomizedDelaySec ? `, +${printable(formatSpan(e.randomizedDelaySec))} random delay` : ''}`);
    out(`  intensity  ${printable(e.intensity)}, auto-repair ${e.autoRepair ? 'on' : 'off'}`);
    out(`  next run   ${printable(e.next ?? 'never')}`);
    if (e.lastRun) {
      const end = e.lastRun.finishedAt ? `exit ${printable(e.lastRun.exitCode ?? '-')}` : 'running or interrupted';
      out(`  last run   ${printable(e.lastRun.startedAt)} (${printable(e.lastRun.trigger)}, ${end})`);
    }
    out(`  file       ${safe(String(e.file))}`);
  }
}

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString()} dfs-scrub-schedule[${process.pid}]: ${printable(line)}\n`);
}

async function run(opts: Opts): Promise<number> {
  const handle = startRunner({ root: requirePool(opts.pool), log });
  const onSignal = (sig: NodeJS.Signals) => handle.stop(sig);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  await handle.done;
  return 0;
}

const depthWord = (d: Depth) => (d === 'light' ? 'light scrub' : 'scrub');

/** Options that only make sense when creating a schedule. */
const SETTING_OPTIONS = ['frequency', 'intensity', 'auto-repair', 'randomized-delay'] as const;

async function scheduleCommand(action: string | undefined, opts: Opts): Promise<number> {
  if (opts._.length > 0) throw usageError(`unexpected argument ${JSON.stringify(opts._[0])}`);
  if (action !== undefined && action !== 'run') throw usageError(`unknown action ${JSON.stringify(action)} (the only action is run)`);
  const list = parseBoolean(opts.list, '--list', false);
  const remove = parseBoolean(opts.remove, '--remove', false);
  const dryRun = parseBoolean(opts['dry-run'], '--dry-run', false);
  const json = parseBoolean(opts.json, '--json', false);
  const modes = [action === 'run' && 'run', list && '--list', remove && '--remove'].filter(Boolean);
  if (modes.length > 1) throw usageError(`${modes[0]} and ${modes[1]} cannot be combined`);
  const mode = modes[0];
  if (mode) {
    const extra = SETTING_OPTIONS.find((o) => opts[o] !== undefined);
    if (extra) throw usageError(`--${extra} cannot be combined with ${mode}`);
    if (mode !== '--remove' && opts['dry-run'] !== undefined) throw usageError(`--dry-run cannot be combined with ${mode}`);
    if (mode === 'run' && opts.depth !== undefined) throw usageError('--depth cannot be combined with run (it fires every schedule the pool has)');
  }
  if (mode === 'run') return run(opts);
  const where = resolveWhere(opts);
  if (mode === '--list') {
    const depth = opts.depth === undefined ? undefined : parseDepth(opts.depth);
    const entries = listSchedules(opts.pool, where).filter((e) => depth === undefined || e.depth === depth);
    if (json) out(JSON.stringify({ schedules: entries }, null, 2));
    else printList(entries);
    return 0;
  }
  if (mode === '--remove') {
    const r = removeSchedule(opts.pool, where, dryRun, opts.depth);
    if (json) out(JSON.stringify(r, null, 2));
    else printRemove(r);
    return 0;
  }
  if (opts.frequency === undefined) {
    throw usageError('--frequency is required (or give --list, --remove, or the run action)');
  }
  const r = applySchedule(opts, where, dryRun);
  if (json) out(JSON.stringify(r, null, 2));
  else printApply(r);
  return 0;
}

export const scheduleProgram: ProgramSpec = {
  name: 'dfs-scrub-schedule',
  version: VERSION,
  description:
    'Schedule periodic scrubs of a pool: a systemd timer where systemd runs, else a schedule in the pool ' +
    'fired by `dfs-scrub-schedule run` (node-cron). Without an action it creates or replaces the schedule.',
  single: true,
  common: [poolOption, jsonOption],
  commands: [
    {
      usage: '[action]',
      description: 'action: run (fire the stored schedule in the foreground, without systemd)',
      options: [
        {
          flag: '--frequency',
          value: 'FREQ',
          choices: NAMED_FREQUENCIES,
          description:
            'nightly (24 h, 03:00), continuous (6 h), weekly, monthly, hourly, daily (00:00), a systemd calendar expression or a cron expression',
        },
        {
          flag: '--depth',
          value: 'DEPTH',
          choices: DEPTHS,
          description: 'deep (default: read and prove every byte) or light (shard presence, sizes and headers); a pool may have one of each',
        },
        { flag: '--intensity', value: 'LEVEL', choices: INTENSITIES, description: 'low, medium, high or max (default low)' },
        { flag: '--auto-repair', value: 'BOOL', choices: BOOLEAN_CHOICES, description: 'true: runs repair what they find (default false)' },
        { flag: '--randomized-delay', value: 'SPAN', description: 'Start each run up to SPAN later at random (default per frequency)' },
        { flag: '--dry-run', value: 'BOOL', choices: BOOLEAN_CHOICES, description: 'true: print files, commands and next runs; change nothing' },
        { flag: '--list', description: 'Show schedules (all with systemd, else those of --pool; --depth shows one depth)' },
        { flag: '--remove', description: "Disable and delete the pool's schedule of --depth (default deep)" },
        { flag: '--backend', value: 'NAME', choices: ['auto', 'systemd', 'cron'], description: 'auto (systemd if running, else cron), systemd or cron' },
        {
          flag: '--unit-dir',
          value: 'DIR',
          description: 'Write units under DIR, not /etc/systemd/system; systemctl is then not run, only printed',
        },
        {
          flag: '--config-dir',
          value: 'DIR',
          description: 'Write pool configs under DIR, not /etc/dynamicfs/scrub; systemctl is then not run, only printed',
        },
      ],
      examples: [
        '--pool /tmp/pool --frequency nightly --intensity low --auto-repair true',
        '--pool /tmp/pool --frequency continuous --intensity medium --auto-repair false',
        '--pool /tmp/pool --frequency nightly --intensity low --dry-run true',
        "--pool /tmp/pool --frequency 'Sat *-*-* 02:00' --auto-repair true",
        '--pool /tmp/pool --depth light --frequency hourly --auto-repair true',
        'run --pool /tmp/pool',
        '--list',
      ],
      action: scheduleCommand,
    },
  ],
};

/** Runs dfs-scrub-schedule on argv as process.argv has it; the umbrella runs its commands here, with this executable's own copy of the core. */
export const main = (argv?: string[]) => runProgram(scheduleProgram, argv);

if (require.main === module) void main();
