// Start-up (issue 12): the executables and the verify threads load only what
// they use. Real processes, with test/load-recorder.ts preloaded in every
// thread, say what they read and loaded: no process.report (napi-rs loaders
// gather a whole diagnostic report with it to tell musl from glibc), and no
// native or heavy package where a command does not use it. Timings are for
// `make bench` (section startup), not for tests.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { cli, CliResult, scratchDir } from './helpers';
import { napiPlatformPackage, requireNapiPackage } from '../src/core/napi-package';
import { CLAIMS_DIR } from '../src/core/disk-claims';
import { compileBundle } from '../src/cli/bundle-loader';

const dir = scratchDir('dfs-startup-');
const pool = path.join(dir, 'pool');
const recorder = path.join(__dirname, 'load-recorder.js');

/** Packages that load a native addon, or are big, and that only some commands use. */
const NATIVE_OR_HEAVY = /node_modules\/(@node-rs\/xxhash|@napi-rs\/blake-hash|@ronomon\/reed-solomon|sd-notify|bindings|prom-client|node-cron)[^/]*\//;

interface Recorded {
  result: CliResult;
  /** Thread ids that ran the preload (0: the main thread). */
  threads: Set<number>;
  reportReads: string[];
  dlopens: string[];
  /** Modules that ran: from require.cache, and from inside the bundles (dist/src/... as built). */
  modules: string[];
  /** Bundled executables that were loaded. */
  bundles: string[];
}

let runs = 0;

/** Notes in the host-wide claims directory (core/disk-claims.ts); 0 when it does not exist. */
function claimNotes(): number {
  try {
    return fs.readdirSync(CLAIMS_DIR).length;
  } catch {
    return 0;
  }
}

/** Runs an executable with the recorder preloaded in each of its threads. */
function recorded(name: string, args: string[]): Recorded {
  const record = path.join(dir, `record-${++runs}.txt`);
  const nodeOptions = [process.env.NODE_OPTIONS, `--require=${recorder}`].filter(Boolean).join(' ');
  const result = cli(name, args, { env: { NODE_OPTIONS: nodeOptions, DFS_LOAD_RECORD: record } });
  const lines = fs.existsSync(record) ? fs.readFileSync(record, 'utf8').split('\n').filter(Boolean) : [];
  const rest = (what: string) => lines.filter((l) => l.split(' ')[1] === what).map((l) => l.split(' ').slice(2).join(' '));
  return {
    result,
    threads: new Set(lines.filter((l) => l.endsWith(' preload')).map((l) => Number(l.split(' ')[0]))),
    reportReads: lines.filter((l) => l.endsWith(' process.report')),
    dlopens: lines.filter((l) => l.split(' ')[1] === 'dlopen'),
    modules: [...rest('module'), ...rest('bundled')],
    bundles: rest('bundle'),
  };
}

function mustSucceed(name: string, args: string[]): void {
  const r = cli(name, args);
  assert.is(r.status, 0, `${name} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
}

test.before(() => {
  const input = path.join(dir, 'input.bin');
  fs.writeFileSync(input, Buffer.alloc(100_000, 7));
  mustSucceed('dfs-pool', ['create', '--pool', pool, '--disks', '3', '--redundancy', 'mirror:2']);
  mustSucceed('dfs-pool', ['put', '--pool', pool, input, 'obj']);
});

test('dfs-scrub --help reads no process.report and loads no native package', () => {
  const r = recorded('dfs-scrub', ['--help']);
  assert.is(r.result.status, 0, r.result.stderr);
  assert.match(r.result.stdout, /--intensity/);
  assert.ok(r.threads.has(0), 'the recorder ran');
  assert.equal(r.reportReads, []);
  assert.equal(r.dlopens, []);
  assert.equal(r.modules.filter((m) => NATIVE_OR_HEAVY.test(m)), []);
  assert.not.ok(r.modules.some((m) => m.endsWith(path.join('src', 'scrub', 'pass.js'))), 'the pass code is not loaded for --help');
});

test('a verify thread starts and checksums without process.report', () => {
  const r = recorded('dfs-scrub', ['--pool', pool]);
  assert.is(r.result.status, 0, r.result.stderr);
  assert.ok([...r.threads].some((t) => t !== 0), `a verify thread ran the recorder (threads: ${[...r.threads].join(', ')})`);
  // The deep pass proved the payloads in a thread: xxhash's addon was loaded there.
  assert.ok(r.dlopens.some((l) => !l.startsWith('0 ') && /xxhash/.test(l)), `a verify thread loaded xxhash: ${r.dlopens.join('; ')}`);
  assert.equal(r.reportReads, []);
});

test('dynamicfs status and dfs-scrubd status read no process.report, nor load the pass, reed-solomon, sd-notify, prom-client or node-cron', () => {
  const status = recorded('dynamicfs', ['status', '--pool', pool]);
  assert.is(status.result.status, 0, status.result.stderr);
  assert.match(status.result.stdout, /^pool: /);
  const claimsBefore = claimNotes();
  const daemon = recorded('dfs-scrubd', ['status', '--pool', pool]);
  const claimsAfter = claimNotes();
  assert.is(daemon.result.status, 3, `no daemon runs: exit 3 (${daemon.result.stderr})`);
  assert.match(daemon.result.stdout, /Status: Stopped/);
  for (const r of [status, daemon]) {
    // The executables are bundles (make build); the recorder sees the modules that run inside them.
    assert.ok(r.bundles.length > 0, 'the executable ran as a bundle');
    assert.ok(r.modules.some((m) => m.endsWith('src/core/pool.js')), `the recorder saw the pool code run: ${r.modules.join(', ')}`);
    assert.equal(r.reportReads, []);
    // Manifests are proven by BLAKE3: blake-hash is the one native package status uses.
    assert.equal(r.modules.filter((m) => NATIVE_OR_HEAVY.test(m) && !/@napi-rs\/blake-hash/.test(m)), []);
    assert.not.ok(r.modules.some((m) => /src\/(scrub\/pass|daemon\/daemon)\.js$/.test(m)), 'no pass or daemon code');
  }
  // dfs-scrubd status reads no manifest: no native package at all, unless
  // another pool's claim notes (another test's) needed this pool's tag.
  if (claimsBefore === 0 && claimsAfter === 0) {
    assert.equal(daemon.dlopens, []);
    assert.equal(daemon.modules.filter((m) => NATIVE_OR_HEAVY.test(m)), []);
  }
});

test('each executable is a stub, its bundle and a code cache that this node accepts', () => {
  const cliDir = path.join(__dirname, '..', 'src', 'cli');
  for (const name of ['dfs-pool', 'dfs-scrub', 'dfs-scrubd', 'dynamicfs']) {
    assert.match(fs.readFileSync(path.join(cliDir, `${name}.js`), 'utf8'), /runBundle\(module, require/, `${name}.js is the stub (make build)`);
    assert.ok(fs.existsSync(path.join(cliDir, `${name}.bundle.cache`)), `${name}.bundle.cache exists`);
    assert.is(compileBundle(cliDir, name).cachedDataRejected, false, `V8 takes ${name}'s code cache`);
  }
});

test('a napi-rs package loads through its platform package here, and a package without one through its own entry', () => {
  const platform = napiPlatformPackage('@node-rs/xxhash');
  if (platform && fs.existsSync(path.join(__dirname, '..', '..', 'node_modules', platform))) {
    assert.is(requireNapiPackage('@node-rs/xxhash'), require(platform));
  }
  assert.is(requireNapiPackage('kleur'), require('kleur'));
});

test.run();
