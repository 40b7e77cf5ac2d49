#!/usr/bin/env node
import path from 'node:path';
import { EXIT, operationalError, usageError } from '../core/errors';
import { ProgramSpec, runProgram, VERSION } from './program';
import { printable } from './format';
import {
  DEFAULT_LISTEN,
  DEFAULT_PORT,
  DEFAULT_TEXTFILE_NAME,
  DEFAULT_INTERVAL_SECONDS,
  parseInterval,
  parseListen,
  parsePools,
  parsePort,
  parseTextfileDir,
  parseTextfileName,
} from '../metrics/options';
import { readSnapshots } from '../metrics/snapshot';
import { startMetricsServer } from '../metrics/server';
import { exportTextfile, runTextfileLoop } from '../metrics/textfile';

// dfs-metrics (`dynamicfs metrics-server`): parse, check the pools once, then
// serve HTTP or write textfiles until SIGTERM. The work is in src/metrics/.

const NAME = 'dfs-metrics';
// Log lines name pools and their errors, which may hold anything: escaped for the terminal or journal.
const log = (line: string) => process.stderr.write(`${NAME}: ${printable(line)}\n`);

interface Opts {
  pool?: unknown;
  listen?: unknown;
  port?: unknown;
  'textfile-dir'?: unknown;
  'textfile-name'?: unknown;
  once?: unknown;
  interval?: unknown;
}

/** Fail at start on a pool that cannot be read (a typo, a wrong mount) rather than export a zero. */
function checkPools(pools: string[]): void {
  for (const s of readSnapshots(pools)) if (!s.ok) throw operationalError(s.error);
}

/** Aborts on SIGTERM or SIGINT: both are a normal stop for a service. */
function stopSignal(): AbortSignal {
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return ac.signal;
}

/** Resolves once signal aborts, also when it already has (a SIGTERM during start-up). */
const aborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));

async function serve(pools: string[], opts: Opts): Promise<number> {
  const host = parseListen(opts.listen ?? DEFAULT_LISTEN);
  const port = parsePort(opts.port ?? String(DEFAULT_PORT));
  checkPools(pools);
  const signal = stopSignal();
  const server = await startMetricsServer({ pools, host, port, log });
  log(`serving ${pools.length} pool(s) at ${server.url}/metrics and ${server.url}/health, status page ${server.url}/`);
  await aborted(signal);
  await server.close();
  return EXIT.OK;
}

async function textfiles(pools: string[], opts: Opts): Promise<number> {
  const dir = parseTextfileDir(opts['textfile-dir']);
  const name = parseTextfileName(opts['textfile-name'] ?? DEFAULT_TEXTFILE_NAME);
  if (opts.once && opts.interval !== undefined) throw usageError('--once and --interval exclude each other');
  const intervalSeconds = opts.interval === undefined ? DEFAULT_INTERVAL_SECONDS : parseInterval(opts.interval);
  if (opts.once) {
    // A pool that cannot be read still gets its `dynamicfs_pool_readable 0` written, then fails the run.
    const r = await exportTextfile(pools, dir, name);
    if (r.poolErrors.length > 0) throw operationalError(r.poolErrors.join('; '));
    return EXIT.OK;
  }
  checkPools(pools);
  const signal = stopSignal();
  log(`writing ${path.join(dir, name)} every ${intervalSeconds}s for ${pools.length} pool(s)`);
  await runTextfileLoop({ pools, dir, name, intervalSeconds, signal, log });
  return EXIT.OK;
}

export const metricsProgram: ProgramSpec = {
  name: NAME,
  version: VERSION,
  description: 'Export DynamicFS scrub state to Prometheus: HTTP /metrics, /health and a status page at /, or node_exporter textfiles',
  common: [],
  single: true,
  commands: [
    {
      usage: '',
      description: 'Serve /metrics, /health and the status page / over HTTP, or write a textfile for node_exporter',
      options: [
        { flag: '--pool', value: 'PATH', description: 'A pool to export; repeat for several pools' },
        { flag: '--listen', value: 'ADDR', description: 'IP address to listen on', default: DEFAULT_LISTEN },
        { flag: '--port', value: 'N', description: 'TCP port to listen on (0: any free port)', default: String(DEFAULT_PORT) },
        { flag: '--textfile-dir', value: 'DIR', description: 'Write a textfile into DIR for node_exporter instead of serving HTTP' },
        { flag: '--textfile-name', value: 'NAME', description: 'Name of the textfile in DIR', default: DEFAULT_TEXTFILE_NAME },
        { flag: '--once', description: 'Write the textfile once and exit', default: false },
        { flag: '--interval', value: 'DURATION', description: `Time between textfile writes, e.g. 30s or 5m (default ${DEFAULT_INTERVAL_SECONDS}s)` },
      ],
      examples: [
        '--pool /var/lib/dynamicfs/pool --port 9090',
        '--pool /var/lib/dynamicfs/pool --textfile-dir /var/lib/prometheus/node-exporter --once',
      ],
      action: async (opts: Opts) => {
        const pools = parsePools(opts.pool);
        // A bad --port or --listen is refused in every mode, not only where it is used.
        parseListen(opts.listen ?? DEFAULT_LISTEN);
        parsePort(opts.port ?? String(DEFAULT_PORT));
        if (opts['textfile-dir'] !== undefined) return textfiles(pools, opts);
        if (opts.once || opts.interval !== undefined) throw usageError('--once and --interval need --textfile-dir');
        return serve(pools, opts);
      },
    },
  ],
};

/** Runs dfs-metrics on argv as process.argv has it; the umbrella runs its commands here, with this executable's own copy of the core. */
export const main = (argv?: string[]) => runProgram(metricsProgram, argv);

if (require.main === module) void main();
