import fs from 'node:fs';
import kleur from 'kleur';
import { createPool, openPool, parseExtentSize } from '../core/pool';
import { getObject, listObjects, putObject, removeObject, ShardFinding } from '../core/objects';
import { probeDisks } from '../core/probe';
import { poolStatus } from '../core/pool-status';
import { loadState } from '../scrub/state';
import { collectGarbage } from '../scrub/gc';
import { acquireScrubLock, readLock } from '../scrub/lock';
import { pidAlive } from '../core/pid';
import { diskViews, ResilverProgress } from '../scrub/disk-view';
import { diskCommands } from './pool-disk-commands';
import { quarantineCommand } from './pool-quarantine-commands';
import { parseDuration } from '../core/units';
import { usageError } from '../core/errors';
import { jsonOption, poolOption, ProgramSpec, requirePool, runProgram, VERSION } from './program';
import { bytes, duration, printJson, stateColor, table } from './format';
import path from 'node:path';

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
  for (const f of findings) process.stderr.write(`dfs-pool: warning: shard ${f.shard} of extent ${f.extent}: ${f.problem} (${f.detail}) at ${f.path}\n`);
}

function resilverLine(r: ResilverProgress): string {
  if (!r.pass) return `rebuilding since ${r.since}: waiting for a repair pass (dfs-scrub --repair, or the daemon with auto-repair)`;
  const eta = r.pass.etaSeconds === undefined ? '' : `, ETA ${duration(r.pass.etaSeconds)}`;
  return `rebuilding since ${r.since}: ${(r.pass.ratio * 100).toFixed(1)}% (${r.pass.extentsDone}/${r.pass.extentsTotal} extents)${eta}`;
}

export const poolProgram: ProgramSpec = {
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
        const diskCount = opts.disks === undefined ? undefined : Number(opts.disks);
        if (diskCount !== undefined && !Number.isInteger(diskCount)) throw usageError(`--disks ${opts.disks}: expected a whole number`);
        const pool = createPool({
          root,
          diskCount,
          diskPaths: many(opts.disk),
          redundancy: String(opts.redundancy),
          extentSize: parseExtentSize(String(opts['extent-size'])),
        });
        if (opts.json) printJson({ pool: pool.root, id: pool.config.id, redundancy: pool.config.redundancy, disks: pool.disks.map((d) => d.path) });
        else console.log(`created pool ${pool.root} (${pool.config.id}): ${pool.disks.length} disks, ${pool.config.redundancy}`);
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
        const r = await putObject(pool, file, name ?? path.basename(file), opts.redundancy === undefined ? undefined : String(opts.redundancy), !!opts.replace);
        if (opts.json) printJson(r);
        else console.log(`stored ${r.name}: ${bytes(r.size)} in ${r.extents} extents (${r.scheme}), ${r.extentsDeduplicated} already stored`);
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
          await getObject(pool, name, out ?? process.stdout, findings);
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
        const objects = listObjects(openPool(requirePool(opts)));
        if (opts.json) return printJson({ objects });
        if (objects.length === 0) return;
        console.log(table([['NAME', 'SIZE', 'SCHEME', 'EXTENTS', 'CREATED'], ...objects.map((o) => [o.name, bytes(o.size), o.scheme, String(o.extents), o.created])]));
      },
    },
    {
      usage: 'rm <name>',
      description: 'Remove an object and every extent no other object references',
      options: [],
      action: (name: string, opts: Opts) => {
        const r = removeObject(openPool(requirePool(opts)), name);
        if (opts.json) printJson(r);
        else console.log(`removed ${r.name}: ${r.extentsRemoved} extents, ${r.shardsRemoved} shard files`);
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
        const pool = openPool(requirePool(opts));
        const release = acquireScrubLock(pool.root, 'dfs-pool gc');
        try {
          const results = collectGarbage(pool, parseDuration(opts['min-age'], '--min-age'), !!opts['dry-run']);
          if (opts.json) printJson({ results });
          else {
            for (const r of results) console.log(`${r.result.padEnd(11)} ${r.kind}  ${r.path}${r.detail ? `  (${r.detail})` : ''}`);
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
        if (opts.json) return printJson({ ...st, disks, scrub: { lastPass: scrub.lastPass ?? null, health: scrub.health, counters: scrub.counters, current: scrub.current ?? null, openProblems: scrub.openProblems.length } });
        const lines = [
          `pool:       ${st.pool}`,
          `id:         ${st.id}`,
          `redundancy: ${st.defaultRedundancy} (default), extent size ${bytes(st.extentSize)}`,
          `objects:    ${st.objects}${st.unreadableObjects ? kleur.red(` (+${st.unreadableObjects} with every manifest copy damaged)`) : ''}`,
          `extents:    ${st.extents}`,
          `data:       ${bytes(st.bytes)}`,
          'schemes:',
          ...Object.entries(st.schemes).map(([s, v]) => `  ${s}: ${v.objects} objects, ${v.extents} extents, ${bytes(v.bytes)}`),
          'disks:',
          table([
            ['  DISK', 'STATE', 'READ', 'CKSUM', 'WRITE', 'QUARANTINE', 'PATH'],
            ...disks.map((d) => [
              `  ${d.index}`,
              stateColor(d.state),
              String(d.errors.read),
              String(d.errors.checksum),
              String(d.errors.write),
              d.quarantine.entries ? `${d.quarantine.entries} (${bytes(d.quarantine.bytes)})` : '-',
              `${d.path}${d.detail && d.state !== 'online' ? `  (${d.detail})` : ''}`,
            ]),
          ]),
          ...disks.filter((d) => d.resilver).map((d) => `resilver:   disk ${d.index} ${resilverLine(d.resilver!)}`),
        ];
        const last = scrub.lastPass;
        if (last) {
          lines.push(
            `last scrub: ${last.finishedAt} (${last.mode}, ${duration(last.durationSeconds)}): ${stateColor(last.outcome)}, exit ${last.exitCode}`,
            `extents:    ${last.health.healthy} healthy, ${last.health.degraded} degraded, ${last.health.unrecoverable} unrecoverable`,
          );
        } else lines.push('last scrub: never');
        if (scrub.current) {
          const holder = readLock(pool.root);
          const live = holder && pidAlive(holder.pid);
          const where = `${scrub.current.extentsDone}/${scrub.current.extentsTotal} extents (${scrub.current.runner})`;
          lines.push(live ? `scrub in progress: ${where}, PID ${holder.pid}` : `scrub interrupted at ${where}: dfs-scrub --resume or the daemon continues it`);
        }
        if (scrub.openProblems.length) lines.push(`open problems: ${scrub.openProblems.length} (dfs-scrub --pool ${st.pool} shows them)`);
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
              String(p.errors.read),
              String(p.errors.checksum),
              String(p.errors.write),
              p.probe === 'ok' ? `ok ${p.probeMicros} us` : p.probe,
              p.freeBytes === undefined ? '-' : bytes(p.freeBytes),
              p.totalBytes === undefined ? '-' : bytes(p.totalBytes),
              p.shards === undefined ? '-' : String(p.shards),
              p.path + (p.detail && p.state !== 'online' ? `  (${p.detail})` : ''),
            ]),
          ]),
        );
        return bad.length ? 4 : 0;
      },
    },
  ],
};

if (require.main === module) void runProgram(poolProgram);
