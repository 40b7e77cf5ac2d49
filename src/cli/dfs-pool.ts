#!/usr/bin/env node
import kleur from 'kleur';
import { createPool, openPool, parseExtentSize } from '../core/pool';
import type { ShardFinding } from '../core/objects';
import { poolStatus } from '../core/pool-status';
import { poolSummary } from '../core/pool-summary';
import { loadState } from '../scrub/state';
import { acquireScrubLock, readLock } from '../scrub/lock';
import { pidAlive } from '../core/pid';
import { diskViews, ResilverProgress } from '../scrub/disk-view';
import { diskCommands } from './pool-disk-commands';
import { quarantineCommand } from './pool-quarantine-commands';
import { parseDuration, parseWholeNumber } from '../core/units';
import { jsonOption, poolOption, ProgramSpec, requirePool, runProgram, VERSION } from './program';
import { bytes, duration, printable, printJson, stateColor, table } from './format';
import path from 'node:path';

// Objects, probes and gc are required by the commands that use them: status
// loads none of them (issue 12).
const objects = (): typeof import('../core/objects') => require('../core/objects');

interface Opts {
  pool?: string;
  json?: boolean;
  [k: string]: unknown;
}

function many(v: unknown): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

function reportFindings(findings: ShardFinding[]): void {
  for (const f of findings) process.stderr.write(`dfs-pool: warning: shard ${printable(f.shard)} of extent ${printable(f.extent)}: ${printable(f.problem)} (${printable(f.detail)}) at ${printable(f.path)}\n`);
}

function resilverLine(r: ResilverProgress): string {
  if (!r.pass) return `rebuilding since ${printable(r.since)}: waiting for a repair pass (dfs-scrub --repair, or the daemon with auto-repair)`;
  const eta = r.pass.etaSeconds === undefined ? '' : `, ETA ${duration(r.pass.etaSeconds)}`;
  return `rebuilding since ${printable(r.since)}: ${(r.pass.ratio * 100).toFixed(1)}% (${printable(r.pass.extentsDone)}/${printable(r.pass.extentsTotal)} extents)${eta}`;
}

export const poolProgram: ProgramSpec = {
  runsAsPoolOwner: true,
  name: 'dfs-pool',
  version: VERSION,
  description: 'Create DynamicFS pools, store and read objects, show status and probe disks',
  common: [poolOption, jsonOption],
  commands: [
    {
      usage: 'create',
      description: 'Create a pool: its directory, disk labels and pool.json',
      options: [
        { flag: '--disks', value: 'N', description: 'Make N disk directories under POOL/disks (tests, demos)' },
        { flag: '--disk', value: 'PATH', description: 'A disk directory (mount point); repeat for each disk' },
        { flag: '--redundancy', value: 'SCHEME', description: 'Default scheme: mirror:N or rs:K+M', default: 'rs:4+2' },
        { flag: '--extent-size', value: 'SIZE', description: 'Largest extent, e.g. 4M', default: '4M' },
      ],
      examples: ['create --pool /tmp/pool --disks 6 --redundancy rs:4+2'],
      action: (opts: Opts) => {
        const root = requirePool(opts);
        const diskCount = opts.disks === undefined ? undefined : parseWholeNumber(opts.disks, '--disks', 1, 64);
        const pool = createPool({
          root,
          diskCount,
          diskPaths: many(opts.disk),
          redundancy: String(opts.redundancy),
          extentSize: parseExtentSize(String(opts['extent-size'])),
        });
        // The empty pool's summary, saved now: puts add to it, so a status after them counts no manifest.
        poolSummary(pool);
        if (opts.json) printJson({ pool: pool.root, id: pool.config.id, redundancy: pool.config.redundancy, disks: pool.disks.map((d) => d.path) });
        else console.log(`created pool ${printable(pool.root)} (${printable(pool.config.id)}): ${pool.disks.length} disks, ${printable(pool.config.redundancy)}`);
      },
    },
    {
      usage: 'put <file> [name]',
      description: 'Store a file as an object (name defaults to the file name)',
      options: [
        { flag: '--redundancy', value: 'SCHEME', description: "This object's scheme instead of the pool default" },
        { flag: '--replace', description: 'Replace an existing object of the same name' },
      ],
      action: async (file: string, name: string | undefined, opts: Opts) => {
        const pool = openPool(requirePool(opts));
        const r = await objects().putObject(pool, file, name ?? path.basename(file), opts.redundancy === undefined ? undefined : String(opts.redundancy), !!opts.replace);
        if (opts.json) printJson(r);
        else console.log(`stored ${printable(r.name)}: ${bytes(r.size)} in ${r.extents} extents (${printable(r.scheme)}), ${r.extentsDeduplicated} already stored`);
      },
    },
    {
      usage: 'get <name> [out]',
      description: 'Read an object to OUT (written whole or not at all) or to stdout',
      options: [],
      action: async (name: string, out: string | undefined, opts: Opts) => {
        const pool = openPool(requirePool(opts));
        const findings: ShardFinding[] = [];
        try {
          await objects().getObject(pool, name, out ?? process.stdout, findings);
        } finally {
          reportFindings(findings);
        }
      },
    },
    {
      usage: 'ls',
      description: 'List objects',
      options: [],
      action: (opts: Opts) => {
        const list = objects().listObjects(openPool(requirePool(opts)));
        if (opts.json) return printJson({ objects: list });
        if (list.length === 0) return;
        console.log(table([['NAME', 'SIZE', 'SCHEME', 'EXTENTS', 'CREATED'], ...list.map((o) => [printable(o.name), bytes(o.size), printable(o.scheme), String(o.extents), printable(o.created)])]));
      },
    },
    {
      usage: 'rm <name>',
      description: 'Remove an object and every extent no other object references',
      options: [],
      action: (name: string, opts: Opts) => {
        const r = objects().removeObject(openPool(requirePool(opts)), name);
        if (opts.json) printJson(r);
        else console.log(`removed ${printable(r.name)}: ${r.extentsRemoved} extents, ${r.shardsRemoved} shard files`);
      },
    },
    {
      usage: 'gc',
      description: 'Move orphan shards (no manifest names their extent) and stale temp files into quarantine',
      options: [
        { flag: '--min-age', value: 'DURATION', description: 'Only files older than this (a put may be in flight)', default: '1h' },
        { flag: '--dry-run', description: 'Show what would move, move nothing' },
      ],
      action: (opts: Opts) => {
        const minAge = parseDuration(opts['min-age'], '--min-age');
        const pool = openPool(requirePool(opts));
        const release = acquireScrubLock(pool.root, 'dfs-pool gc');
        try {
          const { collectGarbage }: typeof import('../scrub/gc') = require('../scrub/gc');
          const results = collectGarbage(pool, minAge, !!opts['dry-run']);
          if (opts.json) printJson({ results });
          else {
            for (const r of results) console.log(`${r.result.padEnd(11)} ${r.kind}  ${printable(r.path)}${r.detail ? `  (${printable(r.detail)})` : ''}`);
            console.log(`${results.filter((r) => r.result === 'quarantined').length} of ${results.length} candidates moved to quarantine`);
          }
          return results.some((r) => r.result === 'failed') ? 8 : 0;
        } finally {
          release();
        }
      },
    },
    {
      usage: 'status',
      description: 'Pool identity, schemes, disks, object and extent counts, last scrub',
      options: [],
      action: (opts: Opts) => {
        const pool = openPool(requirePool(opts));
        const st = poolStatus(pool);
        const scrub = loadState(pool.root, pool.config.id);
        const disks = diskViews(pool, scrub);
        if (opts.json) return printJson({ ...st, disks, scrub: { lastPass: scrub.lastPass ?? null, lastLight: scrub.lastLight ?? null, health: scrub.health, counters: scrub.counters, current: scrub.current ?? null, openProblems: scrub.openProblems.length } });
        const lines = [
          `pool:       ${printable(st.pool)}`,
          `id:         ${printable(st.id)}`,
          `redundancy: ${printable(st.defaultRedundancy)} (default), extent size ${bytes(st.extentSize)}`,
          `objects:    ${st.objects}${st.unreadableObjects ? kleur.red(` (+${st.unreadableObjects} with every manifest copy damaged)`) : ''}`,
          `extents:    ${st.extents}`,
          `data:       ${bytes(st.bytes)}`,
          'schemes:',
          ...Object.entries(st.schemes).map(([s, v]) => `  ${printable(s)}: ${v.objects} objects, ${v.extents} extents, ${bytes(v.bytes)}`),
          'disks:',
          table([
            ['  DISK', 'STATE', 'READ', 'CKSUM', 'WRITE', 'QUARANTINE', 'PATH'],
            ...disks.map((d) => [
              `  ${d.index}`,
              stateColor(d.state),
              printable(d.errors.read),
              printable(d.errors.checksum),
              printable(d.errors.write),
              d.quarantine.entries ? `${d.quarantine.entries} (${bytes(d.quarantine.bytes)})` : '-',
              `${printable(d.path)}${d.detail && d.state !== 'online' ? `  (${printable(d.detail)})` : ''}`,
            ]),
          ]),
          ...disks.filter((d) => d.resilver).map((d) => `resilver:   disk ${d.index} ${resilverLine(d.resilver!)}`),
          ...disks.flatMap((d) => (d.claimedBy ?? []).map((other) => kleur.yellow(`claimed:    disk ${d.index} is named by the pool at ${printable(other)} too (refused there, untouched by it)`))),
        ];
        const last = scrub.lastPass;
        if (last) {
          lines.push(
            `last scrub: ${printable(last.finishedAt)} (${printable(last.mode)}, ${duration(last.durationSeconds)}): ${stateColor(last.outcome)}, exit ${printable(last.exitCode)}`,
            `extents:    ${printable(last.health.healthy)} healthy, ${printable(last.health.degraded)} degraded, ${printable(last.health.unrecoverable)} unrecoverable`,
          );
        } else lines.push('last scrub: never');
        const light = scrub.lastLight;
        if (light) lines.push(`last light: ${printable(light.finishedAt)} (headers and sizes, ${duration(light.durationSeconds)}): ${stateColor(light.outcome)}, exit ${printable(light.exitCode)}`);
        if (scrub.current) {
          const holder = readLock(pool.root);
          const live = holder && pidAlive(holder.pid);
          const where = `${printable(scrub.current.extentsDone)}/${printable(scrub.current.extentsTotal)} extents (${printable(scrub.current.runner)})`;
          lines.push(live ? `scrub in progress: ${where}, PID ${printable(holder.pid)}` : `scrub interrupted at ${where}: dfs-scrub --resume or the daemon continues it`);
        }
        if (scrub.openProblems.length) lines.push(`open problems: ${scrub.openProblems.length} (dfs-scrub --pool ${printable(st.pool)} shows them)`);
        console.log(lines.join('\n'));
      },
    },
    ...diskCommands,
    quarantineCommand,
    {
      usage: 'probe-disks',
      description: 'Check every disk: state, a write-fsync-read-delete probe, free space, shard count',
      options: [],
      action: (opts: Opts) => {
        const pool = openPool(requirePool(opts));
        const views = diskViews(pool, loadState(pool.root, pool.config.id));
        const { probeDisks }: typeof import('../core/probe') = require('../core/probe');
        const probes = probeDisks(pool).map((p) => ({ ...p, errors: views[p.index].errors, quarantine: views[p.index].quarantine }));
        // The exit says whether every disk is usable; error counts are shown, as zpool status shows them, without failing.
        const bad = probes.filter((p) => p.state !== 'online');
        if (opts.json) {
          printJson({ disks: probes });
          return bad.length ? 4 : 0;
        }
        console.log(
          table([
            ['DISK', 'STATE', 'READ', 'CKSUM', 'WRITE', 'PROBE', 'FREE', 'TOTAL', 'SHARDS', 'PATH'],
            ...probes.map((p) => [
              String(p.index),
              stateColor(p.state),
              printable(p.errors.read),
              printable(p.errors.checksum),
              printable(p.errors.write),
              p.probe === 'ok' ? `ok ${p.probeMicros} us` : printable(p.probe),
              p.freeBytes === undefined ? '-' : bytes(p.freeBytes),
              p.totalBytes === undefined ? '-' : bytes(p.totalBytes),
              p.shards === undefined ? '-' : String(p.shards),
              printable(p.path) + (p.detail && p.state !== 'online' ? `  (${printable(p.detail)})` : ''),
            ]),
          ]),
        );
        return bad.length ? 4 : 0;
      },
    },
  ],
};

/** Runs dfs-pool on argv as process.argv has it; the umbrella runs its commands here, with this executable's own copy of the core. */
export const main = (argv?: string[]) => runProgram(poolProgram, argv);

if (require.main === module) void main();
