#!/usr/bin/env node
import type { ProgramSpec } from './program';

// The umbrella keeps the guide's command names (`dynamicfs scrub`, `status`,
// `scrub-daemon start`, ...) and hands each to the executable that owns it.
// Executables load lazily: `dynamicfs status` need not load the metrics server.
// Each executable is a bundle of its own once built (Makefile, `bundle`), with
// its own copy of the core and of program.ts: a command runs through its
// executable's `main`, so the errors it throws and the notices it gives are
// the ones that copy reports. This file bundles only itself and version.ts.

interface Executable {
  main(argv: string[]): Promise<never>;
}

interface Route {
  executable: () => Executable;
  spec: () => ProgramSpec;
  /** The sub-command to put in front of the remaining arguments, if the guide's name is one. */
  as?: string;
  about: string;
}

const scrub = () => require('./dfs-scrub');
const pool = () => require('./dfs-pool');
const daemon = () => require('./dfs-scrubd');
const schedule = () => require('./dfs-scrub-schedule');
const metrics = () => require('./dfs-metrics');
const inject = () => require('./dfs-inject');

export const UMBRELLA_ROUTES: Record<string, Route> = {
  scrub: { executable: scrub, spec: () => scrub().scrubProgram, about: 'one scrub pass (dfs-scrub)' },
  status: { executable: pool, spec: () => pool().poolProgram, as: 'status', about: 'pool status and last scrub (dfs-pool status)' },
  'probe-disks': { executable: pool, spec: () => pool().poolProgram, as: 'probe-disks', about: 'probe every disk (dfs-pool probe-disks)' },
  pool: { executable: pool, spec: () => pool().poolProgram, about: 'create, put, get, ls, rm (dfs-pool)' },
  'scrub-daemon': { executable: daemon, spec: () => daemon().daemonProgram, about: 'background scrub daemon (dfs-scrubd)' },
  'scrub-schedule': { executable: schedule, spec: () => schedule().scheduleProgram, about: 'periodic scrubs (dfs-scrub-schedule)' },
  'metrics-server': { executable: metrics, spec: () => metrics().metricsProgram, about: 'Prometheus metrics (dfs-metrics)' },
  inject: { executable: inject, spec: () => inject().injectProgram, about: 'fault injection for drills (dfs-inject)' },
};

export const UMBRELLA_COMMANDS = Object.keys(UMBRELLA_ROUTES);

function usage(): string {
  return [
    '',
    '  Usage',
    '    $ dynamicfs <command> [options]',
    '',
    '  Commands',
    ...Object.entries(UMBRELLA_ROUTES).map(([name, r]) => `    ${name.padEnd(16)}${r.about}`),
    '',
    '  Run `dynamicfs <command> --help` for a command\'s options.',
    '',
  ].join('\n');
}

if (require.main === module) {
  const [node, , cmd, ...rest] = process.argv;
  if (!cmd || cmd === '--help' || cmd === '-h') {
    process.stdout.write(usage());
    process.exit(cmd ? 0 : 16);
  }
  if (cmd === '--version' || cmd === '-v') {
    process.stdout.write(`dynamicfs, ${(require('./version') as typeof import('./version')).VERSION}\n`);
    process.exit(0);
  }
  const route = UMBRELLA_ROUTES[cmd];
  if (!route) {
    process.stderr.write(`dynamicfs: unknown command ${JSON.stringify(cmd)} (see dynamicfs --help)\n`);
    process.exit(16);
  }
  const spec = route.spec();
  void route.executable().main([node, spec.name, ...(route.as ? [route.as] : []), ...rest]);
}
