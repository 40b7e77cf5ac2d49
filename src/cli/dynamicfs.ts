#!/usr/bin/env node
import { ProgramSpec, runProgram } from './program';

// The umbrella keeps the guide's command names (`dynamicfs scrub`, `status`,
// `scrub-daemon start`, ...) and hands each to the executable that owns it.
// Specs load lazily: `dynamicfs status` need not load the metrics server.

interface Route {
  spec: () => ProgramSpec;
  /** The sub-command to put in front of the remaining arguments, if the guide's name is one. */
  as?: string;
  about: string;
}

export const UMBRELLA_ROUTES: Record<string, Route> = {
  scrub: { spec: () => require('./dfs-scrub').scrubProgram, about: 'one scrub pass (dfs-scrub)' },
  status: { spec: () => require('./dfs-pool').poolProgram, as: 'status', about: 'pool status and last scrub (dfs-pool status)' },
  'probe-disks': { spec: () => require('./dfs-pool').poolProgram, as: 'probe-disks', about: 'probe every disk (dfs-pool probe-disks)' },
  pool: { spec: () => require('./dfs-pool').poolProgram, about: 'create, put, get, ls, rm (dfs-pool)' },
  'scrub-daemon': { spec: () => require('./dfs-scrubd').daemonProgram, about: 'background scrub daemon (dfs-scrubd)' },
  'scrub-schedule': { spec: () => require('./dfs-scrub-schedule').scheduleProgram, about: 'periodic scrubs (dfs-scrub-schedule)' },
  'metrics-server': { spec: () => require('./dfs-metrics').metricsProgram, about: 'Prometheus metrics (dfs-metrics)' },
  inject: { spec: () => require('./dfs-inject').injectProgram, about: 'fault injection for drills (dfs-inject)' },
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
    process.stdout.write(`dynamicfs, ${require('./program').VERSION}\n`);
    process.exit(0);
  }
  const route = UMBRELLA_ROUTES[cmd];
  if (!route) {
    process.stderr.write(`dynamicfs: unknown command ${JSON.stringify(cmd)} (see dynamicfs --help)\n`);
    process.exit(16);
  }
  const spec = route.spec();
  void runProgram(spec, [node, spec.name, ...(route.as ? [route.as] : []), ...rest]);
}
