// `make install` and `make uninstall` (DESIGN §4), run as a packager and as a
// user would: into a staging tree (DESTDIR, PREFIX=/usr/local), checking every
// part of the installed layout; and into a real prefix (no DESTDIR) whose
// wrappers are run for real, create a pool, store, read and scrub it. The
// installed systemd units pass `systemd-analyze verify` as instances keyed by
// a real escaped pool path, and every service is hardened to an exposure of
// at most 2.0. Uninstall removes exactly what install added.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { diffFingerprints, fingerprintTree, once, repoRoot, requireTool, runMake, scratchDir, which } from './helpers';
import { DAEMON_NODE_FLAGS, renderWrapper } from '../src/cli/node-flags';

const EXECUTABLES = ['dfs-pool', 'dfs-scrub', 'dfs-scrubd', 'dfs-scrub-schedule', 'dfs-metrics', 'dfs-inject', 'dynamicfs'];
/** The unit templates DESIGN §4 names (dfs-metrics* aside, which are checked against units/). */
const DESIGN_UNITS = ['dfs-scrubd@.service', 'dfs-scrub@.service'];
const MAX_EXPOSURE = 2.0;

const tmp = scratchDir('dfs-install-');

// ---------------------------------------------------------------------------
// Running make

const make = runMake;

function mustMake(args: string[]): string {
  const r = make(args);
  assert.is(r.status, 0, `make ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout + r.stderr;
}

/** Every file below dir (relative paths, '/'-separated), directories left out. */
function filesBelow(dir: string): string[] {
  return [...fingerprintTree(dir).entries()].filter(([, d]) => !d.startsWith('dir ')).map(([p]) => p);
}

// ---------------------------------------------------------------------------
// The staged install: DESTDIR=<tmp>/stage PREFIX=/usr/local

const STAGE = path.join(tmp, 'stage');
const S = (p: string) => path.join(STAGE, p); // a path of the final system, inside the stage
const BIN = '/usr/local/bin';
const LIB = '/usr/local/lib/dynamicfs';
const MAN = '/usr/local/share/man';
const UNITDIR = '/usr/local/lib/systemd/system';
const stageVars = [`DESTDIR=${STAGE}`, 'PREFIX=/usr/local'];

/** Files the stage holds before install that install must not touch and uninstall must not remove. */
function seedStage(): void {
  for (const [f, text] of [
    ['usr/local/bin/other-tool', '#!/bin/sh\necho other\n'],
    ['usr/local/share/man/man8/other-tool.8', '.Dd\n'],
    ['usr/local/lib/systemd/system/other.service', '[Service]\nExecStart=/bin/true\n'],
  ]) {
    fs.mkdirSync(path.dirname(S(f)), { recursive: true });
    fs.writeFileSync(S(f), text, { mode: 0o755 });
  }
}

const staged = once(() => {
  seedStage();
  const before = fingerprintTree(STAGE);
  const output = mustMake(['install', ...stageVars]);
  return { before, output, after: fingerprintTree(STAGE) };
});

test('make install DESTDIR=... PREFIX=/usr/local succeeds', () => {
  const { output } = staged();
  assert.match(output, /make install: \d+ files under/);
});

test('executables: a small /bin/sh wrapper each, exec-ing node on the installed library', () => {
  staged();
  const missing = EXECUTABLES.filter((n) => !fs.existsSync(S(`${BIN}/${n}`)));
  assert.equal(missing, [], `not installed in ${BIN}: ${missing.join(' ')}`);
  const node = fs.readFileSync(path.join(repoRoot, 'build', 'node-path'), 'utf8').trim();
  for (const n of EXECUTABLES) {
    const file = S(`${BIN}/${n}`);
    const st = fs.statSync(file);
    assert.is(st.mode & 0o777, 0o755, `${BIN}/${n} mode`);
    assert.ok(st.size < 1024, `${BIN}/${n} is a small wrapper (${st.size} bytes)`);
    const text = fs.readFileSync(file, 'utf8');
    assert.ok(text.startsWith('#!/bin/sh\n'), `${BIN}/${n} is a /bin/sh script`);
    const js = `${LIB}/dist/src/cli/${n}.js`;
    const exec = text.split('\n').find((l) => l.startsWith('exec '));
    assert.ok(exec, `${BIN}/${n} execs`);
    assert.ok(exec!.includes(`'${node}'`) || exec!.includes(` ${node} `), `${BIN}/${n} runs ${node}: ${exec}`);
    assert.ok(exec!.includes(js), `${BIN}/${n} runs ${js}: ${exec}`);
    assert.ok(exec!.includes('"$@"'), `${BIN}/${n} passes its arguments on`);
    assert.ok(fs.existsSync(S(js)), `${js} is installed`);
  }
  // The daemon's node flags: where the daemon runs (dfs-scrubd start, dynamicfs scrub-daemon start) only.
  const flags = DAEMON_NODE_FLAGS.join(' ');
  const execs = (n: string) => fs.readFileSync(S(`${BIN}/${n}`), 'utf8').split('\n').filter((l) => l.includes('exec '));
  assert.ok(execs('dfs-scrubd')[0].startsWith('case "$1" in start) exec ') && execs('dfs-scrubd')[0].includes(` ${flags} `), `dfs-scrubd start runs node ${flags}: ${execs('dfs-scrubd')[0]}`);
  assert.not.ok(execs('dfs-scrubd')[1].includes(flags), "dfs-scrubd's other verbs run without them");
  assert.ok(execs('dynamicfs')[0].startsWith('case "$1" in scrub-daemon) case "$2" in start) exec ') && execs('dynamicfs')[0].includes(` ${flags} `), `dynamicfs scrub-daemon start runs node ${flags}`);
  assert.not.ok(execs('dynamicfs')[1].includes(flags), 'other dynamicfs commands run without them');
  assert.not.ok(execs('dfs-pool')[0].includes(flags), 'dfs-pool runs without them');
  assert.ok(execs('dfs-scrubd')[0].includes(' env MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}" MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-131072}" '), `dfs-scrubd start: glibc's arenas capped, its mapping threshold held: ${execs('dfs-scrubd')[0]}`);
  assert.not.ok(execs('dfs-scrubd')[1].includes('MALLOC_ARENA_MAX'), "dfs-scrubd's other verbs: the default arenas");
  const extra = fs.readdirSync(S(BIN)).filter((n) => !EXECUTABLES.includes(n) && n !== 'other-tool');
  assert.equal(extra, [], `unexpected files in ${BIN}`);
});

test('a wrapper gives the daemon two malloc arenas unless the environment says otherwise, and the other verbs nothing', () => {
  const dir = scratchDir('dfs-wrapper-');
  const script = path.join(dir, 'show-env.js');
  fs.writeFileSync(script, 'process.stdout.write(String(process.env.MALLOC_ARENA_MAX))');
  const wrapper = path.join(dir, 'dfs-scrubd');
  fs.writeFileSync(wrapper, renderWrapper('dfs-scrubd', process.execPath, script), { mode: 0o755 });
  const env = { ...process.env };
  delete env.MALLOC_ARENA_MAX;
  const run = (args: string[], extra: NodeJS.ProcessEnv = {}) => spawnSync(wrapper, args, { encoding: 'utf8', env: { ...env, ...extra } }).stdout;
  assert.is(run(['start', '--pool', '/p']), '2', 'start: two arenas');
  assert.is(run(['start'], { MALLOC_ARENA_MAX: '8' }), '8', "start: the operator's own setting wins");
  assert.is(run(['status']), 'undefined', 'status: untouched');
});

test('a wrapper starts node without NODE_EXTRA_CA_CERTS: no executable speaks TLS, and node parses the bundle at start', () => {
  const dir = scratchDir('dfs-wrapper-ca-');
  const script = path.join(dir, 'show-env.js');
  fs.writeFileSync(script, 'process.stdout.write(String(process.env.NODE_EXTRA_CA_CERTS))');
  // A bundle node cannot load: node says so on stderr whenever it reads the variable.
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: path.join(dir, 'no-such-bundle.pem') };
  const bare = spawnSync(process.execPath, [script], { encoding: 'utf8', env });
  assert.match(bare.stderr, /Ignoring extra certs from/, `node itself reads the variable: ${bare.stderr}`);
  for (const [name, args] of [['dynamicfs', ['status']], ['dfs-scrubd', ['start']], ['dfs-scrubd', ['status']]] as const) {
    const wrapper = path.join(dir, name);
    fs.writeFileSync(wrapper, renderWrapper(name, process.execPath, script), { mode: 0o755 });
    const r = spawnSync(wrapper, [...args], { encoding: 'utf8', env });
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout, 'undefined', `${name} ${args.join(' ')}: not in node's environment`);
    assert.is(r.stderr, '', `${name} ${args.join(' ')}: node never read it`);
  }
});

test('library: dist/src, package.json, production node_modules, install-paths.json', () => {
  staged();
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
  assert.ok(fs.existsSync(S(`${LIB}/package.json`)), 'package.json');
  for (const f of filesBelow(path.join(repoRoot, 'dist', 'src'))) {
    if (f.startsWith('packaging/')) assert.not.ok(fs.existsSync(S(`${LIB}/dist/src/${f}`)), `${LIB}/dist/src/${f}: release tooling is not installed`);
    else assert.ok(fs.existsSync(S(`${LIB}/dist/src/${f}`)), `${LIB}/dist/src/${f}`);
  }
  for (const dep of Object.keys(pkg.dependencies ?? {})) {
    assert.ok(fs.existsSync(S(`${LIB}/node_modules/${dep}/package.json`)), `dependency ${dep} installed`);
  }
  for (const dep of Object.keys(pkg.devDependencies ?? {})) {
    assert.not.ok(fs.existsSync(S(`${LIB}/node_modules/${dep}`)), `devDependency ${dep} is not installed`);
  }
  assert.not.ok(fs.existsSync(S(`${LIB}/dist/test`)), 'tests are not installed');
  const paths = JSON.parse(fs.readFileSync(S(`${LIB}/install-paths.json`), 'utf8'));
  assert.equal(
    { prefix: paths.prefix, bindir: paths.bindir, libdir: paths.libdir, mandir: paths.mandir, unitdir: paths.unitdir },
    { prefix: '/usr/local', bindir: BIN, libdir: LIB, mandir: MAN, unitdir: UNITDIR },
  );
});

test('library: only what runs, and sd-notify for Node 18 and this node', () => {
  staged();
  const junk = filesBelow(S(`${LIB}/node_modules`)).filter((f) =>
    /(^|\/)(examples?|tests?|docs|\.github|@types)\//.test(f) || /\.(d\.ts|map|md|ts|cc|c|h|gyp)$/.test(f) || /(^|\/)(README|CHANGELOG)[^/]*$/i.test(f),
  );
  assert.equal(junk, [], 'examples, tests, declarations, maps, docs or sources installed');
  const abi = process.versions.modules;
  for (const v of new Set(['108', abi])) {
    const addon = S(`${LIB}/node_modules/sd-notify/lib/binding/node-v${v}-linux-${process.arch}/notify.node`);
    assert.ok(fs.existsSync(addon), `sd-notify's addon for ABI ${v}`);
    assert.is(fs.statSync(addon).mode & 0o777, 0o644, `${addon}: a shared object, not executable`);
  }
  assert.not.ok(fs.existsSync(S(`${LIB}/node_modules/sd-notify/build`)), 'no build/ of the ABI that built it: bindings would try it first');
});

test('bash completion: one script per executable in share/bash-completion/completions', () => {
  staged();
  for (const n of EXECUTABLES) {
    const f = S(`/usr/local/share/bash-completion/completions/${n}`);
    assert.ok(fs.existsSync(f), `${f} missing`);
    assert.match(fs.readFileSync(f, 'utf8'), new RegExp(`^complete -F \\S+ ${n}$`, 'm'));
  }
});

test('man pages: man/*.N in share/man/manN, one per executable, and dynamicfs.7', () => {
  staged();
  for (const f of fs.readdirSync(path.join(repoRoot, 'man')).filter((f) => /\.[1-9]$/.test(f))) {
    const installed = S(`${MAN}/man${f.slice(-1)}/${f}`);
    assert.ok(fs.existsSync(installed), `${f} installed`);
    assert.ok(fs.readFileSync(installed).equals(fs.readFileSync(path.join(repoRoot, 'man', f))), `${f} installed unchanged`);
    assert.is(fs.statSync(installed).mode & 0o777, 0o644, `${f} mode`);
  }
  const missing = EXECUTABLES.filter((n) => !fs.existsSync(S(`${MAN}/man8/${n}.8`)));
  assert.equal(missing, [], `no page installed in ${MAN}/man8 for: ${missing.join(' ')} (man/<name>.8 missing)`);
  assert.ok(fs.existsSync(S(`${MAN}/man7/dynamicfs.7`)), `${MAN}/man7/dynamicfs.7`);
});

test('units: every unit of units/ in lib/systemd/system, @bindir@ and @libdir@ filled in', () => {
  staged();
  const shipped = fs.readdirSync(path.join(repoRoot, 'units')).filter((f) => /\.(service|timer|socket|path|target)$/.test(f));
  assert.ok(shipped.length > 0, 'units/ ships units');
  for (const u of shipped) {
    const file = S(`${UNITDIR}/${u}`);
    assert.ok(fs.existsSync(file), `${u} installed in ${UNITDIR}`);
    const want = fs
      .readFileSync(path.join(repoRoot, 'units', u), 'utf8')
      .replaceAll('@bindir@', BIN)
      .replaceAll('@libdir@', LIB);
    const got = fs.readFileSync(file, 'utf8');
    assert.not.match(got, /@[a-z_]+@/, `${u}: a placeholder is left`);
    assert.is(got.replace(/@node@/g, ''), want.replace(/@node@/g, ''), `${u}: installed = units/${u} with @bindir@ and @libdir@ substituted`);
    assert.is(fs.statSync(file).mode & 0o777, 0o644, `${u} mode`);
  }
  for (const line of shipped.flatMap((u) => fs.readFileSync(S(`${UNITDIR}/${u}`), 'utf8').split('\n'))) {
    const m = /^Exec\w+=[-@:+!]*(\S+)/.exec(line);
    if (m && m[1].startsWith('/usr/local/')) assert.ok(fs.existsSync(S(m[1])), `${line}: ${m[1]} is installed`);
  }
});

test('units: the templates DESIGN §4 names are shipped', () => {
  staged();
  const missing = DESIGN_UNITS.filter((u) => !fs.existsSync(S(`${UNITDIR}/${u}`)));
  assert.equal(missing, [], `not installed (units/${missing.join(', units/')} missing)`);
  assert.ok(
    fs.readdirSync(S(UNITDIR)).some((u) => /^dfs-scrub-[a-z]+@\.timer$/.test(u)),
    'dfs-scrub@.service comes with its timers',
  );
  assert.ok(fs.readdirSync(S(UNITDIR)).some((u) => u.startsWith('dfs-metrics')), 'dfs-metrics units');
});

test('alert and recording rules and the Grafana dashboard: installed where dfs-metrics(8) says, under share/dynamicfs', () => {
  staged();
  for (const f of ['alerts.yml', 'records.yml', 'grafana/dynamicfs.json']) {
    const installed = S(`/usr/local/share/dynamicfs/${f}`);
    assert.ok(fs.existsSync(installed), `/usr/local/share/dynamicfs/${f} is not installed (dfs-metrics.8 FILES names it; src/metrics/${f} is the source)`);
    assert.ok(fs.readFileSync(installed).equals(fs.readFileSync(path.join(repoRoot, 'src', 'metrics', f))), `${f} installed unchanged`);
    assert.is(fs.statSync(installed).mode & 0o777, 0o644, `${f} mode`);
  }
});

test('no installed file names the staging directory (DESTDIR) or the build tree', () => {
  const { before, after } = staged();
  const added = [...after.keys()].filter((p) => !before.has(p) && !after.get(p)!.startsWith('dir ') && !after.get(p)!.startsWith('symlink'));
  assert.ok(added.length > 50, `install added ${added.length} files`);
  const stageBytes = Buffer.from(STAGE);
  const repoBytes = Buffer.from(repoRoot + '/');
  const naming: string[] = [];
  for (const rel of added) {
    const data = fs.readFileSync(path.join(STAGE, rel));
    if (data.includes(stageBytes)) naming.push(`${rel}: names ${STAGE}`);
    // Native addons keep their build logs (node_modules/*/build): only our own files are held to this.
    if (!rel.includes('/node_modules/') && data.includes(repoBytes)) naming.push(`${rel}: names the build tree ${repoRoot}`);
  }
  assert.equal(naming, [], naming.join('\n'));
  for (const rel of added) {
    const mode = fs.statSync(path.join(STAGE, rel)).mode;
    assert.ok(mode & 0o004, `${rel} is world-readable (${(mode & 0o777).toString(8)})`);
    assert.not.ok(mode & 0o022, `${rel} is writable only by its owner (${(mode & 0o777).toString(8)})`);
  }
});

test('the manifest lists exactly what install added', () => {
  const { before, after } = staged();
  const manifest = fs.readFileSync(S(`${LIB}/install-manifest.txt`), 'utf8').split('\n').filter(Boolean);
  const listedFiles = manifest.filter((l) => !l.endsWith('/')).map((l) => l.replace(/^\//, '')).sort();
  const addedFiles = [...after.keys()].filter((p) => !before.has(p) && !after.get(p)!.startsWith('dir ')).sort();
  assert.equal(listedFiles, addedFiles, 'files in the manifest vs files added');
  const listedDirs = manifest.filter((l) => l.endsWith('/')).map((l) => l.replace(/^\//, '').replace(/\/$/, '')).sort();
  const addedDirs = [...after.keys()].filter((p) => !before.has(p) && after.get(p)!.startsWith('dir ')).sort();
  assert.equal(listedDirs, addedDirs, 'directories in the manifest vs directories created');
});

test('the staged dfs-pool runs: node .../dist/src/cli/dfs-pool.js --version', () => {
  staged();
  const r = spawnSync(process.execPath, [S(`${LIB}/dist/src/cli/dfs-pool.js`), '--version'], { encoding: 'utf8', cwd: tmp, env: { ...process.env, NODE_PATH: '' } });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /dfs-pool, \d+\.\d+\.\d+/);
});

test('a second install over the first gives the same tree', () => {
  const { after } = staged();
  mustMake(['install', ...stageVars]);
  const again = fingerprintTree(STAGE, { exclude: (p) => p === `${LIB.slice(1)}/install-manifest.txt` });
  const first = new Map([...after].filter(([p]) => p !== `${LIB.slice(1)}/install-manifest.txt`));
  assert.equal(diffFingerprints(first, again), []);
});

test('make uninstall with the same variables removes exactly what install added', () => {
  const { before } = staged();
  const out = mustMake(['uninstall', ...stageVars]);
  assert.match(out, /removed/);
  assert.equal(diffFingerprints(before, fingerprintTree(STAGE)), [], 'the stage after uninstall vs before install');
  // A second uninstall has nothing to do, and says so.
  assert.match(mustMake(['uninstall', ...stageVars]), /nothing to do/);
});

// ---------------------------------------------------------------------------
// A real install: PREFIX=<tmp>/prefix, no DESTDIR. Its wrappers run as written.

const PREFIX = path.join(tmp, 'prefix');
const prefixVars = [`PREFIX=${PREFIX}`];

const prefixed = once(() => {
  const before = fingerprintTree(tmp, { exclude: (p) => !p.startsWith('prefix') });
  mustMake(['install', ...prefixVars]);
  return { before };
});

/** Runs an installed wrapper with a PATH holding only the prefix and the system, away from the work tree. */
function run(name: string, args: string[], opts: { input?: string } = {}): SpawnSyncReturns<string> {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${PREFIX}/bin:/usr/local/bin:/usr/bin:/bin`, NO_COLOR: '1' };
  for (const k of ['NODE_PATH', 'NOTIFY_SOCKET', 'INVOCATION_ID', 'FORCE_COLOR']) delete env[k];
  const r = spawnSync(path.join(PREFIX, 'bin', name), args, { cwd: tmp, env, encoding: 'utf8', timeout: 120_000, input: opts.input });
  if (r.error) throw r.error;
  return r;
}

function expectExit(want: number, name: string, args: string[]): SpawnSyncReturns<string> {
  const r = run(name, args);
  assert.is(r.status, want, `${name} ${args.join(' ')}: exit ${r.status}, expected ${want}\n${r.stdout}${r.stderr}`);
  return r;
}

test('make install PREFIX=<tmp>/prefix: every wrapper runs (--version, --help)', () => {
  prefixed();
  for (const n of EXECUTABLES) {
    const v = expectExit(0, n, ['--version']);
    assert.match(v.stdout, /\d+\.\d+\.\d+/, `${n} --version`);
    const h = expectExit(0, n, ['--help']);
    assert.match(h.stdout, /Usage/, `${n} --help`);
  }
});

const POOL = path.join(tmp, 'pool');

test('the installed tools create a pool, store, read, damage, scrub and repair it', () => {
  prefixed();
  expectExit(0, 'dynamicfs', ['pool', 'create', '--pool', POOL, '--disks', '4', '--redundancy', 'rs:2+1', '--extent-size', '64K']);
  const data = Buffer.alloc(300_000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
  fs.writeFileSync(path.join(tmp, 'data.bin'), data);
  expectExit(0, 'dfs-pool', ['put', path.join(tmp, 'data.bin'), 'data.bin', '--pool', POOL]);
  expectExit(0, 'dfs-pool', ['get', 'data.bin', path.join(tmp, 'data.out'), '--pool', POOL]);
  assert.ok(fs.readFileSync(path.join(tmp, 'data.out')).equals(data), 'read back bit-identical');
  expectExit(0, 'dynamicfs', ['scrub', '--pool', POOL]);
  expectExit(0, 'dfs-inject', ['corrupt', '--pool', POOL, '--object', 'data.bin', '--shard', '1', '--seed', '1']);
  expectExit(4, 'dfs-scrub', ['--pool', POOL]);
  const repaired = expectExit(1, 'dynamicfs', ['scrub', '--pool', POOL, '--repair', '--json']);
  assert.is(JSON.parse(repaired.stdout).exitCode, 1);
  expectExit(0, 'dfs-scrub', ['--pool', POOL]);
  expectExit(0, 'dynamicfs', ['status', '--pool', POOL]);
  expectExit(0, 'dynamicfs', ['probe-disks', '--pool', POOL]);
  const m = path.join(tmp, 'textfiles');
  fs.mkdirSync(m);
  expectExit(0, 'dfs-metrics', ['--pool', POOL, '--textfile-dir', m, '--once']);
  assert.match(fs.readFileSync(path.join(m, 'dynamicfs.prom'), 'utf8'), /^dynamicfs_scrubs_completed\{pool="[^"]+"\} 4$/m);
});

test('the installed daemon starts, answers and stops', () => {
  prefixed();
  if (!fs.existsSync(POOL)) expectExit(0, 'dfs-pool', ['create', '--pool', POOL, '--disks', '3', '--redundancy', 'mirror:2']);
  try {
    const start = expectExit(0, 'dynamicfs', ['scrub-daemon', 'start', '--pool', POOL, '--intensity', 'low']);
    assert.match(start.stdout.trim(), /^\d+$/, 'start prints the PID');
    const st = expectExit(0, 'dfs-scrubd', ['status', '--pool', POOL, '--json']);
    assert.is(JSON.parse(st.stdout).running, true);
    expectExit(0, 'dfs-scrubd', ['stop', '--pool', POOL]);
    expectExit(3, 'dynamicfs', ['scrub-daemon', 'status', '--pool', POOL]);
  } finally {
    run('dfs-scrubd', ['stop', '--pool', POOL]);
  }
});

// ---------------------------------------------------------------------------
// systemd: the installed units, instantiated for a real pool

interface Instances {
  dir: string;
  env: NodeJS.ProcessEnv;
  /** Every unit to check: the plain ones and one instance of each template. */
  units: string[];
  instance: string;
}

const instances = once((): Instances => {
  prefixed();
  const pool = path.join(tmp, 'unit-pool');
  if (!fs.existsSync(pool)) {
    const r = run('dfs-pool', ['create', '--pool', pool, '--disks', '3', '--redundancy', 'rs:2+1']);
    assert.is(r.status, 0, r.stderr);
  }
  let instance: string;
  if (which('systemd-escape')) {
    const esc = spawnSync('systemd-escape', ['--path', pool], { encoding: 'utf8' });
    assert.is(esc.status, 0, esc.stderr);
    instance = esc.stdout.trim();
  } else {
    instance = require(path.join(repoRoot, 'dist', 'src', 'schedule', 'escape.js')).escapePath(pool);
  }
  const dir = path.join(tmp, 'units-verify');
  fs.mkdirSync(dir, { recursive: true });
  const units: string[] = [];
  for (const u of fs.readdirSync(path.join(PREFIX, 'lib', 'systemd', 'system')).sort()) {
    fs.copyFileSync(path.join(PREFIX, 'lib', 'systemd', 'system', u), path.join(dir, u));
    if (u.includes('@.')) {
      const name = u.replace('@.', `@${instance}.`);
      fs.copyFileSync(path.join(dir, u), path.join(dir, name));
      units.push(name);
    } else units.push(u);
  }
  return { dir, units, instance, env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` } };
});

test('systemd-analyze verify accepts every installed unit, instantiated for a real pool', () => {
  if (!requireTool('systemd-analyze')) return;
  const inst = instances();
  const failed: string[] = [];
  for (const u of inst.units) {
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', path.join(inst.dir, u)], { cwd: inst.dir, env: inst.env, encoding: 'utf8', timeout: 60_000 });
    const ours = (r.stdout + r.stderr).split('\n').filter((l) => /dfs-|dynamicfs/.test(l));
    if (r.status !== 0 || ours.length) failed.push(`${u} (exit ${r.status}):\n  ${(ours.length ? ours : [(r.stdout + r.stderr).trim()]).join('\n  ')}`);
  }
  assert.equal(failed, [], `units systemd-analyze verify rejects:\n${failed.join('\n')}`);
});

test('every unit\'s Documentation= names an installed man page', () => {
  const inst = instances();
  const missing: string[] = [];
  for (const u of inst.units) {
    for (const m of fs.readFileSync(path.join(inst.dir, u), 'utf8').matchAll(/^Documentation=(.*)$/gm)) {
      for (const ref of m[1].split(/\s+/).filter(Boolean)) {
        const page = /^man:([^()]+)\(([1-9])\)$/.exec(ref);
        if (!page) continue;
        if (!fs.existsSync(path.join(PREFIX, 'share', 'man', `man${page[2]}`, `${page[1]}.${page[2]}`))) missing.push(`${u}: ${ref}`);
      }
    }
  }
  assert.equal([...new Set(missing)], [], `Documentation= pages not installed:\n${[...new Set(missing)].join('\n')}`);
});

test(`every installed service is hardened: systemd-analyze security exposure <= ${MAX_EXPOSURE}`, () => {
  if (!requireTool('systemd-analyze')) return;
  const inst = instances();
  const services = inst.units.filter((u) => u.endsWith('.service'));
  assert.ok(services.length > 0);
  const bad: string[] = [];
  for (const u of services) {
    const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', path.join(inst.dir, u)], {
      cwd: inst.dir,
      env: inst.env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    const m = /Overall exposure level for \S+: (\d+\.\d+)/.exec(r.stdout);
    if (!m) bad.push(`${u}: no exposure level (exit ${r.status}): ${r.stderr.trim()}`);
    else if (Number(m[1]) > MAX_EXPOSURE) bad.push(`${u}: exposure ${m[1]}`);
  }
  assert.equal(bad, [], bad.join('\n'));
});

test("the guide's own Systemd Service example (README) verifies with the installed paths", () => {
  if (!requireTool('systemd-analyze')) return;
  prefixed();
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const block = [...readme.matchAll(/```ini\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => /ExecStart=\/usr\/local\/bin\/dynamicfs scrub-daemon start/.test(b));
  assert.ok(block, "README.md shows the guide's [Service] with ExecStart=/usr/local/bin/dynamicfs scrub-daemon start ...");
  const dir = path.join(tmp, 'guide-unit');
  fs.mkdirSync(dir, { recursive: true });
  const unit = path.join(dir, 'dynamicfs-scrub.service');
  fs.writeFileSync(unit, block!.replaceAll('/usr/local/bin/', `${PREFIX}/bin/`));
  for (const m of block!.matchAll(/^Exec\w+=(\S+)/gm)) assert.ok(fs.existsSync(m[1].replace('/usr/local/bin/', `${PREFIX}/bin/`)), `${m[1]} is installed`);
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', unit], { cwd: dir, env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` }, encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.not.match(r.stdout + r.stderr, /dynamicfs-scrub/, r.stdout + r.stderr);
});

test('make uninstall PREFIX=<tmp>/prefix removes exactly what install added', () => {
  const { before } = prefixed();
  // A stopped daemon and scrubs leave nothing in the prefix; only make's files are there.
  mustMake(['uninstall', ...prefixVars]);
  const after = fingerprintTree(tmp, { exclude: (p) => !p.startsWith('prefix') });
  assert.equal(diffFingerprints(before, after), []);
  assert.not.ok(which(path.join(PREFIX, 'bin', 'dynamicfs')), 'dynamicfs is gone');
});

test.run();
