// Shipping: `make dist` and `make deb`, installed where operators install
// them. The tarball installs with no network on this host; the .deb is
// lintian clean; and on a stock Debian 12 (a debootstrap chroot with only
// Debian's nodejs, Node 18, and make: no npm, no compiler) the tarball
// installs offline, the .deb installs and purges with apt, and the installed
// tools create, fill, scrub, repair and export a pool. package.json says what
// the project is.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { once, repoRoot, requireTool, scratchDir } from './helpers';

const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
const TARBALL = path.join(repoRoot, 'build', `${pkg.name}-${pkg.version}.tar.gz`);
const EXECUTABLES = ['dfs-pool', 'dfs-scrub', 'dfs-scrubd', 'dfs-scrub-schedule', 'dfs-metrics', 'dfs-inject', 'dynamicfs'];
/** A stock Debian 12 with nodejs and make, made once by debootstrap and kept between runs. */
const HOST_CACHE = '/var/cache/dynamicfs-test/bookworm-nodejs';
const CI = ['true', '1', 'yes'].includes((process.env.CI ?? '').toLowerCase());
const tmp = scratchDir('dfs-release-');

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd: opts.cwd ?? repoRoot, env: opts.env ?? process.env, encoding: 'utf8', timeout: opts.timeout ?? 600_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  return r;
}

function must(cmd: string, args: string[], opts: Parameters<typeof run>[2] = {}): string {
  const r = run(cmd, args, opts);
  assert.is(r.status, 0, `${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  return r.stdout + r.stderr;
}

/** make, with nothing an outer `make check` exported. */
function make(args: string[]): string {
  const env = { ...process.env };
  for (const k of ['MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES', 'DESTDIR', 'PREFIX']) delete env[k];
  return must('make', ['--no-print-directory', ...args], { env });
}

const tarball = once(() => {
  make(['dist']);
  assert.ok(fs.existsSync(TARBALL), `${TARBALL} not made`);
  return TARBALL;
});

const deb = once(() => {
  make(['deb']);
  const file = fs.readdirSync(path.join(repoRoot, 'build')).find((f) => f.startsWith(`${pkg.name}_${pkg.version}_`) && f.endsWith('.deb'));
  assert.ok(file, 'no .deb under build/');
  return path.join(repoRoot, 'build', file!);
});

test('package.json says what the project is', () => {
  assert.is(pkg.name, 'dynamicfs-scrub');
  assert.match(pkg.version, /^\d+\.\d+\.\d+$/);
  assert.ok(pkg.description && pkg.description.length > 20, 'a description');
  assert.is(pkg.license, 'MIT');
  assert.not.ok('main' in pkg, 'no "main": the project is executables, not a library to require');
  assert.equal(Object.keys(pkg.bin).sort(), [...EXECUTABLES].sort());
  for (const [name, file] of Object.entries(pkg.bin as Record<string, string>)) {
    const js = path.join(repoRoot, file);
    assert.ok(fs.readFileSync(js, 'utf8').startsWith('#!/usr/bin/env node\n'), `${file} starts with #!/usr/bin/env node`);
    const v = must(process.execPath, [js, '--version']);
    assert.match(v, `${name === 'dynamicfs' ? 'dynamicfs' : name}, ${pkg.version}`);
  }
  assert.is(pkg.engines.node, '>=18.19');
  for (const s of Object.values(pkg.scripts as Record<string, string>)) assert.match(s, /^make \w+$/, `script ${s} calls the Makefile`);
  assert.is(pkg.scripts.test, 'make check');
});

test('make dist: the built tree, production node_modules with addons for Node 18 and this node, and no sources', () => {
  const list = must('tar', ['tzf', tarball()]).split('\n').filter(Boolean);
  const top = `${pkg.name}-${pkg.version}/`;
  assert.ok(list.every((f) => f.startsWith(top)), 'one top directory');
  const has = (f: string) => list.includes(top + f);
  for (const f of ['RELEASE', 'Makefile', 'README.md', 'package.json', 'dist/src/cli/dfs-scrub.js', 'src/metrics/alerts.yml', 'src/metrics/records.yml', 'src/metrics/grafana/dynamicfs.json', 'units/dfs-scrub@.service', 'man/dfs-scrub.8', 'build/completions/dfs-scrub']) {
    assert.ok(has(f), `${f} is in the tarball`);
  }
  for (const abi of new Set(['108', process.versions.modules])) {
    assert.ok(has(`build/stage/node_modules/sd-notify/lib/binding/node-v${abi}-linux-${process.arch}/notify.node`), `sd-notify's addon for ABI ${abi}`);
  }
  const unwanted = list.filter((f) => /\.ts$/.test(f) || /\/dist\/test\//.test(f) || /node_modules\/(typescript|uvu|@types)\//.test(f) || /node_modules\/.*\/(examples?|tests?)\//.test(f) || /(README|CHANGELOG)[^/]*$/i.test(f.replace(/^[^/]+\/README\.md$/, '')));
  assert.equal(unwanted, [], 'sources, tests, dev tools or dependency docs in the tarball');
});

test('from the tarball: make install with no network, no npm and no compiler on the PATH', () => {
  if (!requireTool('unshare')) return;
  const dir = path.join(tmp, 'tarball');
  fs.mkdirSync(dir);
  must('tar', ['xzf', tarball(), '-C', dir]);
  const tree = path.join(dir, `${pkg.name}-${pkg.version}`);
  const prefix = path.join(tmp, 'prefix');
  // Only node, make and coreutils: a PATH with node's directory alone would still hold npm, so node is linked in.
  const bin = path.join(tmp, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  const env = { PATH: `${bin}:/usr/bin:/bin`, HOME: tmp };
  const out = must('unshare', ['-n', 'make', 'install', `PREFIX=${prefix}`], { cwd: tree, env });
  assert.match(out, /make install: \d+ files under/);
  assert.not.match(must('unshare', ['-n', 'make'], { cwd: tree, env }), /tsc|npm/, 'make in a release tree builds nothing');
  const r = run('make', ['check'], { cwd: tree, env });
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /needs the source tree/);
  assert.match(must(path.join(prefix, 'bin', 'dfs-scrub'), ['--version'], { env }), `dfs-scrub, ${pkg.version}`);
  const pool = path.join(tmp, 'pool');
  must(path.join(prefix, 'bin', 'dfs-pool'), ['create', '--pool', pool, '--disks', '3', '--redundancy', 'mirror:2'], { env });
  must(path.join(prefix, 'bin', 'dfs-scrub'), ['--pool', pool], { env });
  must('make', ['uninstall', `PREFIX=${prefix}`], { cwd: tree, env });
  assert.equal(fs.existsSync(prefix) ? fs.readdirSync(prefix) : [], [], 'uninstall leaves nothing');
});

test('make deb: lintian finds no error and no warning', () => {
  if (!requireTool('lintian')) return;
  const r = run('lintian', ['--fail-on', 'error,warning', '--no-tag-display-limit', deb()]);
  assert.is(r.status, 0, `lintian:\n${r.stdout}${r.stderr}`);
  const contents = must('dpkg-deb', ['-c', deb()]);
  for (const f of ['./usr/bin/dfs-scrub', './usr/lib/systemd/system/dfs-scrub@.service', './usr/share/man/man8/dfs-scrub.8.gz', './usr/share/bash-completion/completions/dfs-scrub', './usr/share/doc/dynamicfs-scrub/copyright', './usr/share/dynamicfs/alerts.yml', './usr/share/dynamicfs/records.yml', './usr/share/dynamicfs/grafana/dynamicfs.json']) {
    assert.ok(contents.includes(` ${f}\n`) || contents.includes(` ${f} `), `${f} in the package`);
  }
  const info = must('dpkg-deb', ['-f', deb(), 'Depends']);
  assert.match(info, /nodejs \(>= 18\.19\), nodejs \(<< (\d+)\)/);
  assert.is(Number(/nodejs \(<< (\d+)\)/.exec(info)![1]), Number(process.versions.node.split('.')[0]) + 1, 'no newer node than the addons were built for');
});

// ---------------------------------------------------------------------------
// A stock Debian 12

/** The cached Debian 12 tree, made on first use (debootstrap, ~1 minute), from this machine's own Debian mirror. */
function debianHost(): string | undefined {
  if (fs.existsSync(path.join(HOST_CACHE, 'usr/bin/node'))) return HOST_CACHE;
  if (process.getuid?.() !== 0 || !requireTool('debootstrap')) {
    if (CI) throw new Error('a stock Debian 12 chroot needs root and debootstrap (make deps installs it)');
    process.stderr.write('\n*** SKIP: the Debian 12 chroot needs root and debootstrap\n');
    return undefined;
  }
  const sources = must('sh', ['-c', 'cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null || true']);
  // Comment lines are left out: a sources file may name in a comment a mirror this machine cannot reach (a snapshot).
  const live = sources.split('\n').filter((line) => !line.trimStart().startsWith('#')).join('\n');
  const mirror = /(https?:\/\/[^\s]*debian\.[^\s]*\/debian)\b(?!-security)/.exec(live)?.[1] ?? 'http://deb.debian.org/debian';
  const work = `${HOST_CACHE}.tmp-${process.pid}`;
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(HOST_CACHE), { recursive: true });
  must('debootstrap', ['--variant=minbase', 'bookworm', work, mirror], { timeout: 900_000 });
  fs.copyFileSync('/etc/resolv.conf', path.join(work, 'etc/resolv.conf'));
  must('chroot', [work, 'sh', '-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs make >/dev/null && apt-get clean'], { env: cleanEnv(), timeout: 900_000 });
  fs.renameSync(work, HOST_CACHE);
  return HOST_CACHE;
}

/** What a root shell on a stock host has: no variable of this machine's (NODE_EXTRA_CA_CERTS and the like). */
const cleanEnv = (): NodeJS.ProcessEnv => ({ PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LANG: 'C.UTF-8' });

/** A fresh copy of the host, with /proc mounted while `fn` runs. */
function withHost(name: string, fn: (root: string, inHost: (script: string) => string) => void): void {
  const base = debianHost();
  if (!base) return;
  const root = path.join(tmp, name);
  must('cp', ['-a', base, root]);
  must('mount', ['-t', 'proc', 'proc', path.join(root, 'proc')]);
  try {
    fn(root, (script) => must('unshare', ['-n', 'chroot', root, '/bin/bash', '-euo', 'pipefail', '-c', script], { env: cleanEnv() }));
  } finally {
    run('umount', [path.join(root, 'proc')]);
  }
}

/** Every path of the host tree but the volatile ones (dpkg's and apt's own records, logs, /tmp). */
function hostFiles(root: string): string[] {
  const skip = new Set(['proc', 'tmp', 'var/lib/dpkg', 'var/lib/apt', 'var/cache', 'var/log', 'root']);
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (skip.has(p)) continue;
      out.push(p);
      if (e.isDirectory()) walk(p);
    }
  };
  walk('');
  return out.sort();
}

/** Create, fill, damage, scrub, repair, read back and export a pool with the installed tools. */
const EXERCISE = String.raw`
node -e 'process.exit(process.versions.node.startsWith("18.") ? 0 : 1)'
! command -v npm && ! command -v cc && ! command -v g++
dfs-pool create --pool /srv/pool --disks 4 --redundancy rs:2+2
head -c 3000000 /dev/urandom > /tmp/obj
dfs-pool put --pool /srv/pool /tmp/obj obj
dfs-scrub --pool /srv/pool
dfs-inject corrupt --pool /srv/pool --object obj >/dev/null
dfs-scrub --pool /srv/pool --repair >/dev/null || test $? = 1
dfs-scrub --pool /srv/pool >/dev/null
dfs-pool get --pool /srv/pool obj /tmp/back && cmp /tmp/obj /tmp/back
mkdir -p /tmp/tf && dfs-metrics --pool /srv/pool --textfile-dir /tmp/tf --once
grep -q '^dynamicfs_extents_unrecoverable{pool="/srv/pool"} 0' /tmp/tf/*.prom
# The daemon's systemd notification addon, built for Node 18's ABI.
node -e 'require(process.argv[1] + "/node_modules/sd-notify").watchdogInterval()' "$LIB"
rm -rf /srv/pool
`;

test('Debian 12, Node 18: the tarball installs offline and the tools work', () => {
  withHost('host-tarball', (root, inHost) => {
    fs.copyFileSync(tarball(), path.join(root, 'tmp', path.basename(TARBALL)));
    const out = inHost(
      [`cd /tmp && tar xzf ${path.basename(TARBALL)} && cd ${pkg.name}-${pkg.version}`, 'make install PREFIX=/usr/local', 'dfs-scrub --version', 'LIB=/usr/local/lib/dynamicfs', EXERCISE].join('\n'),
    );
    assert.match(out, `dfs-scrub, ${pkg.version}`);
  });
});

test('Debian 12, Node 18: the .deb installs with apt, the tools work, and purge leaves no file of ours', () => {
  withHost('host-deb', (root, inHost) => {
    fs.copyFileSync(deb(), path.join(root, 'tmp', path.basename(deb())));
    const before = hostFiles(root);
    inHost([`apt-get install -y -qq /tmp/${path.basename(deb())} >/dev/null`, 'dfs-scrub --version', 'systemctl --version >/dev/null 2>&1 || true', 'LIB=/usr/lib/dynamicfs', EXERCISE].join('\n'));
    assert.ok(fs.existsSync(path.join(root, 'usr/lib/systemd/system/dfs-scrubd@.service')), 'units in /usr/lib/systemd/system');
    assert.ok(fs.existsSync(path.join(root, 'usr/share/man/man8/dfs-scrub.8.gz')), 'compressed man pages');
    inHost(`apt-get purge -y -qq ${pkg.name} >/dev/null`);
    const after = hostFiles(root);
    assert.equal(after.filter((f) => !before.includes(f)), [], 'left behind after purge');
  });
});

test.run();
