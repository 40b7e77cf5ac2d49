// Safe as root over pools that others can write (DESIGN §5 "Trust"). Root runs
// the tools over a pool that uid 65534 owns and has booby-trapped: links and
// FIFOs at every state file, .dynamicfs itself a link, a pool.json naming
// another pool's disks, hostile manifests, a pre-made runtime directory, escape
// sequences in names, and links swapped in while passes run. Root's own files
// (the victims, in a separate scratch directory) must not change in any way,
// nor show up in any output; every tool ends by itself within its timeout,
// with a clear one-line refusal (exit 8) or a proper answer, never an internal
// error. Needs root and setpriv: elsewhere every test prints *** SKIP (and
// fails under CI=true).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { cli, diffFingerprints, fingerprintTree } from './helpers';
import { blake3Hex } from '../src/core/hash';
import {
  asUser,
  assertVictimUnchanged,
  chownR,
  daemonRound,
  damageShard,
  filesContaining,
  forgetDaemon,
  hostileReady,
  makeVictim,
  nodeAsUser,
  openScratch,
  OTHER,
  Problems,
  reapDaemonsOf,
  shardsOn,
  sleep,
  sq,
  tool,
  toolAsync,
  USER,
  userPool,
  type Ran,
  type Victim,
} from './hostile-fixtures';

const started = Date.now();

/** Victim differences as problems (not a failed assert), so a loop goes on and names the case. */
function victimProblems(p: Problems, v: Victim, after: string): void {
  const diff = diffFingerprints(v.before, fingerprintTree(v.dir, { mtime: true }));
  if (diff.length) p.add(`after ${after}, root's files changed:\n      ${diff.join('\n      ')}`);
}

function markerProblems(p: Problems, v: Victim, dirs: string[], after: string): void {
  for (const d of dirs) for (const f of filesContaining(d, v.marker)) p.add(`after ${after}: ${f} holds the content of root's file`);
}

/** Every path under dir (links not followed) not owned by uid:gid. */
function notOwnedBy(dir: string, uid: number): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of fs.readdirSync(d)) {
      const p = path.join(d, n);
      const st = fs.lstatSync(p);
      if (st.uid !== uid || st.gid !== uid) out.push(`${p} (${st.uid}:${st.gid})`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

/** A directory the pool's owner may write (root's tools write OUT files as that user). */
function userDir(parent: string): string {
  const d = fs.mkdtempSync(path.join(parent, 'out-'));
  fs.chownSync(d, USER, USER);
  return d;
}

const STATE_FILES = ['scrub.lock', 'audit.log', 'scrub-state.json', 'daemon-settings.json', 'daemon.json', 'scrubd.log', 'disk-errors-cleared.json'];

// ---------------------------------------------------------------------------

test("1. root's tools over the user's pool run as the user: what they create belongs to uid 65534", () => {
  if (!hostileReady('hostile pool: run as the owner')) return;
  const v = makeVictim();
  const pool = userPool();
  const p = new Problems();
  // Made anew by this run, not inherited from the template.
  fs.rmSync(path.join(pool.state, 'scrub-state.json'));
  const shard = damageShard(pool);

  p.judge(tool('dfs-scrub', ['--repair', '--pool', pool.root]), [1]);
  for (const f of ['scrub-state.json', 'audit.log']) {
    const file = path.join(pool.state, f);
    const st = fs.lstatSync(file, { throwIfNoEntry: false });
    p.check(st?.isFile(), `${file} was not written`);
    p.check(st && st.uid === USER && st.gid === USER, `${file} belongs to ${st?.uid}:${st?.gid}, not ${USER}:${USER}`);
  }
  // The damaged shard's own disk: DISK/extents/XX/<file>.
  const q = path.join(path.dirname(path.dirname(path.dirname(shard))), '.dynamicfs', 'quarantine');
  const kept = fs.existsSync(q) ? fs.readdirSync(q) : [];
  p.check(kept.length > 0, `no quarantine entry in ${q} after the repair`);
  const rebuilt = fs.lstatSync(shard, { throwIfNoEntry: false });
  p.check(rebuilt && rebuilt.uid === USER, `the rebuilt shard ${shard} belongs to uid ${rebuilt?.uid}`);

  // The daemon, started by root, runs as the user, and so does all it writes.
  const start = p.judge(tool('dfs-scrubd', ['start', '--pool', pool.root, '--pass-interval', '1h']), [0]);
  if (start.status === 0) {
    const pid = Number(start.stdout.trim());
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const uids = status.match(/^Uid:\s+(.*)$/m)?.[1].split(/\s+/).map(Number);
    const gids = status.match(/^Gid:\s+(.*)$/m)?.[1].split(/\s+/).map(Number);
    const groups = status.match(/^Groups:\s*(.*)$/m)?.[1].trim();
    p.check(uids?.every((u) => u === USER), `daemon PID ${pid} runs with uids ${uids}, not ${USER}`);
    p.check(gids?.every((g) => g === USER), `daemon PID ${pid} runs with gids ${gids}, not ${USER}`);
    p.check(!groups || groups.split(/\s+/).every((g) => Number(g) === USER), `daemon PID ${pid} keeps supplementary groups ${groups}`);
    p.judge(tool('dfs-scrubd', ['pause', '--pool', pool.root]), [0]); // persists daemon-settings.json
    p.judge(tool('dfs-scrubd', ['stop', '--pool', pool.root]), [0]);
    forgetDaemon(pid);
  }
  p.judge(tool('dfs-pool', ['clear-errors', '--pool', pool.root]), [0]);
  p.check(reapDaemonsOf(pool.root) === 0, 'a daemon was left running');
  for (const f of ['daemon.json', 'daemon-settings.json', 'scrubd.log', 'disk-errors-cleared.json']) p.check(fs.existsSync(path.join(pool.state, f)), `${f} was not written`);

  const strays = notOwnedBy(pool.root, USER);
  p.check(strays.length === 0, `in the user's pool, root's tools left files not owned by ${USER}:${USER}:\n      ${strays.join('\n      ')}`);
  victimProblems(p, v, 'the runs');
  p.assertNone('run as the pool owner');
});

test('2. a symlink to a root-only file at every state file: followed by nothing, the file unchanged and unread', () => {
  if (!hostileReady('hostile pool: symlinked state files')) return;
  const v = makeVictim();
  const p = new Problems();
  for (const f of STATE_FILES) {
    const pool = userPool();
    const metrics = openScratch('dfs-hostile-metrics-');
    damageShard(pool); // so --repair appends to the audit log and writes the quarantine
    const file = path.join(pool.state, f);
    asUser(`rm -f ${sq(file)}; ln -s ${sq(v.secret)} ${sq(file)}`);
    const o = { marker: v.marker };
    const q = new Problems();
    q.judge(tool('dfs-scrub', ['--repair', '--pool', pool.root]), [0, 1, 4, 8], o);
    q.judge(tool('dfs-pool', ['status', '--pool', pool.root]), [0, 8], o);
    q.judge(tool('dfs-pool', ['clear-errors', '--pool', pool.root]), [0, 8], o);
    q.judge(tool('dfs-metrics', ['--pool', pool.root, '--textfile-dir', metrics, '--once']), [0, 8], o);
    daemonRound(q, pool.root, o);
    victimProblems(q, v, `the link at ${f}`);
    markerProblems(q, v, [pool.root, metrics], `the link at ${f}`);
    for (const m of q.list) p.add(`[${f} -> ${v.secret}] ${m}`);
  }
  p.assertNone('symlinks at the state files');
  assertVictimUnchanged(v);
});

test('3. .dynamicfs a symlink, a file, writable by others, of another owner; the extent index a symlink', () => {
  if (!hostileReady('hostile pool: .dynamicfs')) return;
  const v = makeVictim();
  const p = new Problems();

  // .dynamicfs -> root's directory holding files named like its state: refused by every tool.
  {
    const pool = userPool();
    const metrics = openScratch('dfs-hostile-metrics-');
    damageShard(pool);
    asUser(`mv ${sq(pool.state)} ${sq(pool.state + '.real')} && ln -s ${sq(v.sub)} ${sq(pool.state)}`);
    const o = { marker: v.marker, names: `${pool.state}` };
    p.judge(tool('dfs-scrub', ['--repair', '--pool', pool.root]), [8], o);
    p.judge(tool('dfs-scrub', ['--pool', pool.root]), [8], o);
    p.judge(tool('dfs-pool', ['status', '--pool', pool.root]), [8], o);
    p.judge(tool('dfs-pool', ['ls', '--pool', pool.root]), [8], o);
    p.judge(tool('dfs-pool', ['clear-errors', '--pool', pool.root]), [8], o);
    p.judge(tool('dfs-pool', ['gc', '--pool', pool.root]), [8], o);
    p.judge(tool('dfs-scrubd', ['start', '--pool', pool.root, '--pass-interval', '1h']), [8], o);
    p.judge(tool('dfs-scrubd', ['status', '--pool', pool.root]), [8], o);
    p.judge(tool('dfs-scrubd', ['pause', '--pool', pool.root]), [8], o);
    p.judge(tool('dfs-metrics', ['--pool', pool.root, '--textfile-dir', metrics, '--once']), [0, 8], { marker: v.marker });
    p.check(reapDaemonsOf(pool.root) === 0, '.dynamicfs symlink: a daemon was left running');
    victimProblems(p, v, '.dynamicfs as a symlink');
    markerProblems(p, v, [pool.root, metrics], '.dynamicfs as a symlink');
  }

  // Other ways .dynamicfs (or the pool directory) may not be trusted: each refused, naming it.
  const refusals: { what: string; plant: (pool: ReturnType<typeof userPool>) => void; names: (pool: ReturnType<typeof userPool>) => string }[] = [
    {
      what: '.dynamicfs a regular file',
      plant: (pool) => asUser(`rm -rf ${sq(pool.state)} && echo '{}' > ${sq(pool.state)}`),
      names: (pool) => pool.state,
    },
    { what: '.dynamicfs mode 0777', plant: (pool) => asUser(`chmod 0777 ${sq(pool.state)}`), names: (pool) => pool.state },
    { what: '.dynamicfs mode 0775', plant: (pool) => asUser(`chmod 0775 ${sq(pool.state)}`), names: (pool) => pool.state },
    { what: `.dynamicfs of uid ${OTHER}`, plant: (pool) => chownR(pool.state, OTHER), names: (pool) => pool.state },
    { what: 'the pool directory mode 0777', plant: (pool) => asUser(`chmod 0777 ${sq(pool.root)}`), names: (pool) => pool.root },
  ];
  for (const r of refusals) {
    const pool = userPool();
    r.plant(pool);
    const o = { marker: v.marker, names: r.names(pool) };
    const q = new Problems();
    q.judge(tool('dfs-scrub', ['--repair', '--pool', pool.root]), [8], o);
    q.judge(tool('dfs-pool', ['status', '--pool', pool.root]), [8], o);
    q.judge(tool('dfs-scrubd', ['start', '--pool', pool.root, '--pass-interval', '1h']), [8], o);
    q.check(reapDaemonsOf(pool.root) === 0, 'a daemon was left running');
    for (const m of q.list) p.add(`[${r.what}] ${m}`);
  }

  // The extent index (work space every pass removes and rebuilds) a symlink to root's directory.
  {
    const pool = userPool();
    const index = path.join(pool.state, 'extent-index');
    asUser(`ln -s ${sq(v.sub)} ${sq(index)}`);
    p.judge(tool('dfs-scrub', ['--pool', pool.root]), [0, 8], { marker: v.marker });
    victimProblems(p, v, 'a verify pass with extent-index -> root\'s directory');
    asUser(`rm -rf ${sq(index)}; ln -s ${sq(v.sub)} ${sq(index)}`);
    damageShard(pool);
    p.judge(tool('dfs-scrub', ['--repair', '--pool', pool.root]), [1, 8], { marker: v.marker });
    victimProblems(p, v, 'a repair pass with extent-index -> root\'s directory');
    const left = fs.lstatSync(index, { throwIfNoEntry: false });
    p.check(!left || left.isSymbolicLink(), `${index} is a real directory after the pass (expected removed)`);
  }
  p.assertNone('.dynamicfs and the extent index');
  assertVictimUnchanged(v);
});

test('4. FIFOs and devices at the state files, and huge sparse ones: every tool ends, clearly', () => {
  if (!hostileReady('hostile pool: FIFOs at the state files')) return;
  const v = makeVictim();
  const p = new Problems();
  const HANG = 10_000; // a normal run takes ~0.3 s
  const round = (pool: ReturnType<typeof userPool>, label: string, daemon: boolean, names?: string | RegExp) => {
    const metrics = openScratch('dfs-hostile-metrics-');
    const q = new Problems();
    const o = { marker: v.marker, names };
    q.judge(tool('dfs-scrub', ['--repair', '--pool', pool.root], HANG), [0, 1, 4, 8], o);
    q.judge(tool('dfs-pool', ['status', '--pool', pool.root], HANG), [0, 8], o);
    q.judge(tool('dfs-scrubd', ['status', '--pool', pool.root], HANG), [0, 3, 8], o);
    q.judge(tool('dfs-metrics', ['--pool', pool.root, '--textfile-dir', metrics, '--once'], HANG), [0, 8], o);
    if (daemon) daemonRound(q, pool.root, o, HANG);
    for (const m of q.list) p.add(`[${label}] ${m}`);
  };

  for (const f of STATE_FILES) {
    const pool = userPool();
    damageShard(pool);
    const file = path.join(pool.state, f);
    asUser(`rm -f ${sq(file)}; mkfifo -m 0644 ${sq(file)}`);
    round(pool, `FIFO at ${f}`, true);
  }
  for (const f of ['scrub-state.json', 'daemon-settings.json', 'daemon.json', 'scrub.lock']) {
    const pool = userPool();
    const file = path.join(pool.state, f);
    asUser(`rm -f ${sq(file)}; ln -s /dev/zero ${sq(file)}`);
    round(pool, `${f} -> /dev/zero`, f !== 'scrub-state.json');
  }

  // Sparse giants: a cap refuses them at once, nothing reads gigabytes. 2 GiB - 1 byte stays
  // under node's 2 GiB buffer limit, so a plain readFileSync would really read it all.
  const giants: [string, number][] = [
    ['scrub-state.json', 2 ** 31 - 1],
    ['daemon-settings.json', 2 ** 30],
    ['daemon.json', 2 ** 30],
    ['disk-errors-cleared.json', 2 ** 30],
  ];
  for (const [f, size] of giants) {
    const pool = userPool();
    const file = path.join(pool.state, f);
    asUser(`rm -f ${sq(file)}; truncate -s ${size} ${sq(file)}`);
    const t0 = Date.now();
    round(pool, `sparse ${size}-byte ${f}`, f !== 'scrub-state.json', f === 'scrub-state.json' ? file : undefined);
    const ms = Date.now() - t0;
    // Four runs (six with the daemon), each ~0.3 s: reading the file would take seconds and gigabytes.
    p.check(ms < 12_000, `[sparse ${f}] the runs took ${ms} ms: was it read?`);
  }
  {
    // And the one every tool needs: each refuses quickly, naming the file and its size problem.
    const pool = userPool();
    const file = path.join(pool.state, 'scrub-state.json');
    asUser(`rm -f ${sq(file)}; truncate -s ${2 ** 31 - 1} ${sq(file)}`);
    for (const [name, args] of [
      ['dfs-scrub', ['--pool', pool.root]],
      ['dfs-pool', ['status', '--pool', pool.root]],
    ] as [string, string[]][]) {
      const r = p.judge(tool(name, args, HANG), [8], { names: file });
      p.check(/EFBIG|larger than/.test(r.stderr), `${r.label}: the refusal does not say the file is too large: ${r.stderr.trim()}`);
      p.check(r.ms < 5000, `${r.label}: took ${r.ms} ms`);
    }
  }
  victimProblems(p, v, 'the FIFO, device and sparse runs');
  p.assertNone('FIFOs, devices and giants at the state files');
});

// ---------------------------------------------------------------------------
// Hostile manifests: valid checksums over hostile content

const manifestFile = (disk: string, name: string) => path.join(disk, 'objects', `${blake3Hex(`object:${name}`)}.manifest`);

function readManifest(disk: string, name: string): Record<string, any> {
  return JSON.parse(fs.readFileSync(manifestFile(disk, name), 'utf8')).manifest;
}

/** {"manifest":M,"checksum":"blake3:H"} with H the BLAKE3 of the exact text M: the checksum holds. */
function writeSigned(file: string, m: unknown): void {
  const body = JSON.stringify(m);
  fs.writeFileSync(file, `{"manifest":${body},"checksum":"blake3:${blake3Hex(body)}"}\n`);
  fs.lchownSync(file, USER, USER);
}

const show = (x: unknown) => String(JSON.stringify(x)).slice(0, 500);

interface ScrubReport {
  exitCode: number;
  issues: { kind: string; path?: string; detail?: string }[];
  info?: { kind: string }[];
}

function scrubJson(p: Problems, root: string, label: string, allowed: number[], extra: string[] = []): ScrubReport | undefined {
  const r = p.judge(tool('dfs-scrub', ['--pool', root, '--json', ...extra]), allowed);
  try {
    const rep = JSON.parse(r.stdout) as ScrubReport;
    if (!Array.isArray(rep.issues)) throw new Error('no issues');
    return rep;
  } catch {
    p.add(`[${label}] dfs-scrub --json printed no JSON (exit ${r.status}): ${r.stdout.slice(0, 200)} ${r.stderr.slice(0, 300)}`);
    return undefined;
  }
}

test('5. hostile manifests with valid checksums: damaged, never a crash; a 300 MiB copy judged unread', () => {
  if (!hostileReady('hostile pool: manifests')) return;
  const v = makeVictim();
  const p = new Problems();
  const sum = (m: Record<string, any>) => m.extents.reduce((a: number, e: { length: number }) => a + e.length, 0);

  // One copy claims an extent of 2^40 bytes (size kept the sum): that copy is damaged, the others serve.
  {
    const pool = userPool();
    const m = readManifest(pool.disks[0], 'alpha');
    m.extents[0].length = 2 ** 40;
    m.size = sum(m);
    writeSigned(manifestFile(pool.disks[0], 'alpha'), m);
    const rep = scrubJson(p, pool.root, '2^40 on one copy', [4]);
    const f = rep?.issues.find((i) => i.kind === 'manifest-damaged');
    p.check(f && f.path === manifestFile(pool.disks[0], 'alpha'), `[2^40 on one copy] no manifest-damaged finding for ${manifestFile(pool.disks[0], 'alpha')}: ${show(rep?.issues)}`);
    p.check(f && /extent length/.test(f.detail ?? ''), `[2^40 on one copy] the finding does not say why: ${JSON.stringify(f)}`);
    // get runs as the pool's owner: OUT goes where that user may write.
    const out = path.join(userDir(pool.dir), 'alpha.out');
    const get = p.judge(tool('dfs-pool', ['get', 'alpha', out, '--pool', pool.root]), [0]);
    if (get.status === 0) p.check(fs.readFileSync(out).equals(pool.objects.get('alpha')!), '[2^40 on one copy] get alpha returned other bytes');
    p.judge(tool('dfs-scrub', ['--repair', '--pool', pool.root]), [1]);
    p.judge(tool('dfs-scrub', ['--pool', pool.root]), [0]);
  }

  // Every copy hostile, each in its own way: the object is unrecoverable, reported, no crash.
  type Edit = (m: Record<string, any>) => void;
  const hostile: [string, Edit][] = [
    ['an extent of 2^40 bytes', (m) => ((m.extents[0].length = 2 ** 40), (m.size = sum(m)))],
    ['an extent of 2^31 bytes', (m) => ((m.extents[0].length = 2 ** 31), (m.size = sum(m)))],
    ['a negative extent length', (m) => ((m.extents[0].length = -65536), (m.size = sum(m)))],
    ['a zero extent length', (m) => ((m.extents[0].length = 0), (m.size = sum(m)))],
    ['a fractional extent length', (m) => ((m.extents[0].length = 1.5), (m.size = sum(m)))],
    ['an extent length as a string', (m) => (m.extents[0].length = String(m.extents[0].length))],
    ['size not the sum of lengths', (m) => (m.size = sum(m) + 1)],
    ['size 2^60', (m) => (m.size = 2 ** 60)],
    ['a 5000-byte name', (m) => (m.name = 'n'.repeat(5000))],
    ['extents an object', (m) => (m.extents = { length: 1 })],
    ['a null extent', (m) => (m.extents = [null])],
    ['an extent id not hex', (m) => (m.extents[0].id = '../../../../etc/passwd')],
    ['a bogus scheme', (m) => (m.scheme = 'rs:255+255')],
    ['a huge creation time', (m) => (m.created = 'x'.repeat(100_000))],
    ['a manifest that is an array', (m) => Object.keys(m).forEach((k) => delete m[k])],
  ];
  for (const [what, edit] of hostile) {
    const pool = userPool();
    for (const d of pool.disks) {
      const m = readManifest(d, 'alpha');
      edit(m);
      writeSigned(manifestFile(d, 'alpha'), what === 'a manifest that is an array' ? [m] : m);
    }
    const rep = scrubJson(p, pool.root, what, [4]);
    if (rep && !rep.issues.some((i) => i.kind === 'manifest-unrecoverable')) p.add(`[${what}] no manifest-unrecoverable finding: ${show(rep.issues)}`);
    if (what === 'an extent of 2^40 bytes' || what === 'size not the sum of lengths') {
      p.judge(tool('dfs-scrub', ['--repair', '--pool', pool.root]), [4, 8]);
      p.judge(tool('dfs-pool', ['ls', '--pool', pool.root]), [0, 4, 8]);
      p.judge(tool('dfs-pool', ['status', '--pool', pool.root]), [0, 4, 8]);
      const g = p.judge(tool('dfs-pool', ['get', 'alpha', path.join(userDir(pool.dir), 'out'), '--pool', pool.root]), [8]);
      p.check(/damaged/.test(g.stderr), `[${what}] get alpha: not refused for its damaged manifests: ${g.stderr.trim()}`);
      p.judge(tool('dfs-scrubd', ['status', '--pool', pool.root]), [3]);
    }
  }

  // Mixed: one copy 2^40, one size mismatch, one 300 MiB (sparse): every copy is damaged.
  {
    const pool = userPool();
    const m0 = readManifest(pool.disks[0], 'alpha');
    m0.extents[0].length = 2 ** 40;
    m0.size = sum(m0);
    writeSigned(manifestFile(pool.disks[0], 'alpha'), m0);
    const m1 = readManifest(pool.disks[1], 'alpha');
    m1.size += 7;
    writeSigned(manifestFile(pool.disks[1], 'alpha'), m1);
    const big = manifestFile(pool.disks[2], 'alpha');
    asUser(`truncate -s ${300 * 2 ** 20} ${sq(big)}`);
    const rep = scrubJson(p, pool.root, 'mixed', [4]);
    const f = rep?.issues.find((i) => i.kind === 'manifest-unrecoverable');
    p.check(f, `[mixed] no manifest-unrecoverable finding: ${show(rep?.issues)}`);
    p.check(f && /extent length/.test(f.detail ?? '') && /sum/.test(f.detail ?? '') && /larger than/.test(f.detail ?? ''), `[mixed] the finding does not name each copy's fault: ${f?.detail}`);
  }

  // A 300 MiB copy (sparse) beside good ones: judged damaged from its size, quickly.
  {
    const pool = userPool();
    const big = manifestFile(pool.disks[1], 'alpha');
    asUser(`truncate -s ${300 * 2 ** 20} ${sq(big)}`);
    const t0 = Date.now();
    const rep = scrubJson(p, pool.root, '300 MiB copy', [4]);
    const ms = Date.now() - t0;
    const f = rep?.issues.find((i) => i.kind === 'manifest-damaged' && i.path === big);
    p.check(f && /larger than/.test(f.detail ?? ''), `[300 MiB copy] not judged damaged for its size: ${show(rep?.issues)}`);
    p.check(ms < 5000, `[300 MiB copy] the pass took ${ms} ms: was the copy read?`);
  }
  victimProblems(p, v, 'the manifest runs');
  p.assertNone('hostile manifests');
});

test("6. a pool.json naming another pool's disks: they are foreign, never read for it nor written", () => {
  if (!hostileReady("hostile pool: another pool's disks")) return;
  const p = new Problems();
  // Root's pool A, its disks outside it (root's mount points).
  const dirA = openScratch('dfs-hostile-A-');
  const A = path.join(dirA, 'A');
  const aDisks = [0, 1, 2].map((i) => path.join(dirA, 'mnt', `a${i}`));
  for (const d of aDisks) fs.mkdirSync(d, { recursive: true, mode: 0o755 });
  assert.is(cli('dfs-pool', ['create', '--pool', A, ...aDisks.flatMap((d) => ['--disk', d]), '--redundancy', 'mirror:2', '--extent-size', '64K']).status, 0);
  const content = Buffer.from(Array.from({ length: 150_000 }, (_, i) => (i * 7) & 0xff));
  const src = path.join(dirA, 'src');
  fs.writeFileSync(src, content);
  assert.is(cli('dfs-pool', ['put', src, 'alpha', '--pool', A]).status, 0);
  assert.is(cli('dfs-scrub', ['--pool', A]).status, 0);
  // Bait: a damaged shard a repair would rewrite (and quarantine), an orphan gc would move.
  // Placement is by extent id: take a shard from whichever of A's disks holds one.
  const bad = aDisks.flatMap((d) => shardsOn(d))[0];
  assert.ok(bad, "A holds shard files");
  const fd = fs.openSync(bad, 'r+');
  fs.writeSync(fd, Buffer.from('XXXX'), 0, 4, 300);
  fs.closeSync(fd);
  const orphanDir = path.join(aDisks[1], 'extents', 'ff');
  fs.mkdirSync(orphanDir, { recursive: true });
  fs.writeFileSync(path.join(orphanDir, `${'f'.repeat(64)}.0`), 'orphan');
  const aBefore = fingerprintTree(dirA, { mtime: true });
  const aConfig = JSON.parse(fs.readFileSync(path.join(A, 'pool.json'), 'utf8'));

  // The user's pool B: A's id, A's disks (and their ids), plus one disk of B's own labelled for A's id.
  const dirB = openScratch('dfs-hostile-B-');
  const B = path.join(dirB, 'B');
  fs.mkdirSync(B, { mode: 0o755 });
  fs.chownSync(B, USER, USER);
  const own = path.join(B, 'disks', 'b0');
  asUser(`mkdir -p ${sq(path.join(own, 'extents'))} ${sq(path.join(own, 'objects'))}`);
  const ownId = randomUUID();
  const label = path.join(own, 'dynamicfs-disk.json');
  fs.writeFileSync(label, JSON.stringify({ format: 1, pool: aConfig.id, disk: ownId }, null, 2));
  fs.lchownSync(label, USER, USER);
  const bConfig = { ...aConfig, disks: [...aConfig.disks.map((d: { id: string; path: string }) => ({ id: d.id, path: path.resolve(A, d.path) })), { id: ownId, path: 'disks/b0' }] };
  fs.writeFileSync(path.join(B, 'pool.json'), JSON.stringify(bConfig, null, 2));
  fs.lchownSync(path.join(B, 'pool.json'), USER, USER);

  p.judge(tool('dfs-scrub', ['--repair', '--pool', B]), [0, 1, 4, 8]);
  p.judge(tool('dfs-pool', ['gc', '--pool', B]), [0, 1, 4, 8]);
  const ls = p.judge(tool('dfs-pool', ['ls', '--pool', B, '--json']), [0, 8]);
  p.check(!ls.stdout.includes('"alpha"'), `dfs-pool ls on B lists A's object: ${ls.stdout.slice(0, 300)}`);
  // Where B's owner may write, so only the pool can refuse.
  const stolen = path.join(userDir(dirB), 'stolen');
  p.judge(tool('dfs-pool', ['get', 'alpha', stolen, '--pool', B]), [8]);
  p.check(!fs.existsSync(stolen), "dfs-pool get on B wrote A's object");
  const status = p.judge(tool('dfs-pool', ['status', '--pool', B, '--json']), [0]);
  let disks: { path: string; state: string; detail?: string }[] = [];
  try {
    disks = JSON.parse(status.stdout).disks;
  } catch {
    p.add(`dfs-pool status --json on B: no JSON: ${status.stdout.slice(0, 200)}`);
  }
  for (const d of aDisks) {
    const e = disks.find((x) => x.path === d);
    p.check(e?.state === 'foreign', `A's disk ${d} is ${e?.state ?? 'absent'} in B's status, expected foreign`);
    p.check(e && /belongs to uid 0/.test(e.detail ?? '') && /not adopted/.test(e.detail ?? ''), `A's disk ${d}: the detail does not name its owner: ${e?.detail}`);
  }
  p.check(disks.find((x) => x.path === own)?.state === 'online', `B's own disk is not online: ${JSON.stringify(disks.find((x) => x.path === own))}`);

  const diff = diffFingerprints(aBefore, fingerprintTree(dirA, { mtime: true }));
  p.check(diff.length === 0, `pool A or its disks changed:\n      ${diff.join('\n      ')}`);
  const out = path.join(dirA, 'out');
  p.judge(tool('dfs-pool', ['get', 'alpha', out, '--pool', A]), [0]);
  p.check(fs.existsSync(out) && fs.readFileSync(out).equals(content), "dfs-pool get on A does not return A's content");

  // Both pools are told: A's status names B on each disk B claims, until B's owner mends B's disk list.
  const bReal = fs.realpathSync(B);
  const claimedBy = () => {
    const r = p.judge(tool('dfs-pool', ['status', '--pool', A, '--json']), [0]);
    try {
      return (JSON.parse(r.stdout).disks as { path: string; claimedBy?: string[] }[]).map((d) => d.claimedBy ?? []);
    } catch {
      p.add(`dfs-pool status --json on A: no JSON: ${r.stdout.slice(0, 200)}`);
      return [];
    }
  };
  const told = claimedBy();
  p.check(told.length === aDisks.length && told.every((c) => c.length === 1 && c[0] === bReal), `A's status does not name B on each of its disks: ${JSON.stringify(told)}`);
  const mended = { ...bConfig, disks: bConfig.disks.filter((d: { id: string }) => d.id === ownId) };
  fs.writeFileSync(path.join(B, 'pool.json'), JSON.stringify(mended, null, 2));
  p.judge(tool('dfs-pool', ['status', '--pool', B]), [0]);
  const after = claimedBy();
  p.check(after.every((c) => c.length === 0), `A's status still names B after B's disk list was mended: ${JSON.stringify(after)}`);
  p.assertNone("another pool's disks");
});

test('7. a pre-made runtime directory: start and the control verbs refuse it, and never talk to its socket', async () => {
  if (!hostileReady('hostile pool: runtime directory')) return;
  const p = new Problems();
  const long = path.join(openScratch('dfs-hostile-rt-'), 'x'.repeat(110));
  fs.mkdirSync(long, { mode: 0o755 });
  const rootPool = path.join(long, 'R');
  const userOwned = path.join(long, 'U');
  for (const r of [rootPool, userOwned]) {
    assert.is(cli('dfs-pool', ['create', '--pool', r, '--disks', '3', '--redundancy', 'mirror:2', '--extent-size', '64K']).status, 0);
    assert.ok(Buffer.byteLength(path.join(r, '.dynamicfs', 'scrubd.sock')) > 107, 'the socket path is too long for the pool');
  }
  chownR(userOwned, OTHER);
  const env = { RUNTIME_DIRECTORY: undefined, XDG_RUNTIME_DIR: undefined, TMPDIR: undefined };

  // Runtime directories the attacker made first: root's (either place the code may use) and OTHER's.
  const planted = ['/run/dynamicfs', '/tmp/dynamicfs-0', `/tmp/dynamicfs-${OTHER}`];
  const aside = new Map<string, string>();
  const servers: net.Server[] = [];
  let connections = 0;
  try {
    for (const d of planted) {
      if (fs.existsSync(d) || fs.lstatSync(d, { throwIfNoEntry: false })) {
        const to = `${d}.hostile-test-aside-${process.pid}`;
        fs.renameSync(d, to);
        aside.set(d, to);
      }
      if (d.startsWith('/tmp/')) asUser(`mkdir -m 0755 ${sq(d)}`);
      else {
        // /run is root's: the user cannot make it there, so root plays the stale/mis-owned directory.
        fs.mkdirSync(d, { mode: 0o755 });
        fs.chownSync(d, USER, USER);
      }
      // A listener at each socket name the tools would use there, counting who connects.
      for (const pool of [rootPool, userOwned]) {
        const sock = path.join(d, `scrubd-${blake3Hex(path.resolve(pool)).slice(0, 24)}.sock`);
        const server = net.createServer((c) => {
          connections++;
          c.end(JSON.stringify({ ok: true, status: { pid: 1, running: true } }) + '\n');
        });
        await new Promise<void>((resolve, reject) => server.once('error', reject).listen(sock, resolve));
        fs.lchownSync(sock, USER, USER);
        servers.push(server);
      }
    }

    const cases: [string, string, RegExp][] = [
      ['root-owned pool', rootPool, /\/run\/dynamicfs|\/tmp\/dynamicfs-0/],
      [`pool of uid ${OTHER}`, userOwned, new RegExp(`/tmp/dynamicfs-${OTHER}`)],
    ];
    for (const [what, pool, names] of cases) {
      const o = { names };
      const q = new Problems();
      const judged = (r: Ran, allowed: number[]) => {
        q.judge(r, allowed, o);
        if (r.status === 8 && !/runtime directory/.test(r.stderr)) q.add(`${r.label}: exit 8, but not for the runtime directory: ${r.stderr.trim()}`);
      };
      judged(await toolAsync('dfs-scrubd', ['start', '--pool', pool, '--pass-interval', '1h'], undefined, env), [8]);
      judged(await toolAsync('dfs-scrubd', ['status', '--pool', pool], undefined, env), [8]);
      judged(await toolAsync('dfs-scrubd', ['pause', '--pool', pool], undefined, env), [8]);
      judged(await toolAsync('dfs-scrubd', ['stop', '--pool', pool], undefined, env), [8]);
      // A refused start must not leave its detached daemon behind.
      await sleep(1000);
      const left = reapDaemonsOf(pool);
      q.check(left === 0, `${left} daemon(s) left running after the refused start (killed)`);
      for (const m of q.list) p.add(`[${what}] ${m}`);
    }
    p.check(connections === 0, `the tools connected ${connections} time(s) to sockets in the attacker's runtime directories`);
  } finally {
    for (const s of servers) s.close();
    for (const d of planted) fs.rmSync(d, { recursive: true, force: true });
    for (const [d, to] of aside) fs.renameSync(to, d);
  }
  p.assertNone('pre-made runtime directories');
});

test('8. races: links swapped in for the extent index and a fan-out directory while passes run', async () => {
  if (!hostileReady('hostile pool: races')) return;
  const pool = userPool();
  const fan = path.dirname(pool.disks.flatMap((d) => shardsOn(d))[0]);
  // Root's directory holds what a link-following pass would read, rewrite, quarantine or delete.
  const v = makeVictim((sub) => {
    for (const f of fs.readdirSync(fan)) fs.writeFileSync(path.join(sub, f), Buffer.alloc(70_000, 0x41));
  });
  const p = new Problems();
  const LOOP_MS = 4000;
  const ITERATIONS = 200_000;

  const swapIndex = `
    const fs = require('fs');
    const [ei, victim, ms, n] = process.argv.slice(1);
    const nap = (t) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, t);
    const until = Date.now() + Number(ms);
    let swaps = 0, i = 0;
    for (; i < Number(n) && Date.now() < until; i++) {
      try {
        const st = fs.lstatSync(ei);
        if (st.isDirectory()) { fs.renameSync(ei, ei + '.aside'); fs.rmSync(ei + '.aside', { recursive: true, force: true }); }
        else fs.unlinkSync(ei);
      } catch {}
      try { fs.symlinkSync(victim, ei); swaps++; } catch {}
      nap(Math.random() * 3);
      try { if (fs.lstatSync(ei).isSymbolicLink()) fs.unlinkSync(ei); } catch {}
      try { fs.mkdirSync(ei); } catch {}
      nap(Math.random() * 3);
    }
    try { if (fs.lstatSync(ei).isSymbolicLink()) fs.unlinkSync(ei); } catch {}
    console.log(JSON.stringify({ iterations: i, swaps }));
  `;
  const swapFan = `
    const fs = require('fs');
    const [fan, victim, ms, n] = process.argv.slice(1);
    const nap = (t) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, t);
    const real = fan + '.real';
    const until = Date.now() + Number(ms);
    let swaps = 0, i = 0;
    for (; i < Number(n) && Date.now() < until; i++) {
      try { fs.renameSync(fan, real); fs.symlinkSync(victim, fan); swaps++; } catch {}
      nap(Math.random() * 4);
      try { if (fs.lstatSync(fan).isSymbolicLink()) fs.unlinkSync(fan); } catch {}
      try { fs.renameSync(real, fan); } catch {}
      nap(Math.random() * 4);
    }
    try { if (fs.lstatSync(fan).isSymbolicLink()) fs.unlinkSync(fan); } catch {}
    try { fs.renameSync(real, fan); } catch {}
    console.log(JSON.stringify({ iterations: i, swaps }));
  `;

  for (const [what, code, target] of [
    ['extent-index <-> link to root\'s directory', swapIndex, path.join(pool.state, 'extent-index')],
    [`${path.relative(pool.root, fan)} <-> link to root's directory`, swapFan, fan],
  ] as [string, string, string][]) {
    const t0 = Date.now();
    const swapper = nodeAsUser(code, [target, v.sub, String(LOOP_MS), String(ITERATIONS)]);
    let out = '', err = '';
    swapper.stdout!.on('data', (d) => (out += d));
    swapper.stderr!.on('data', (d) => (err += d));
    const done = new Promise<number | null>((resolve) => swapper.once('close', (c) => resolve(c)));
    let finished = false;
    void done.then(() => (finished = true));
    const killer = setTimeout(() => swapper.kill('SIGKILL'), LOOP_MS + 5000);
    let passes = 0;
    const q = new Problems();
    while (!finished && passes < 60) {
      const args = passes % 2 ? ['--repair', '--pool', pool.root] : ['--pool', pool.root];
      q.judge(await toolAsync('dfs-scrub', args), [0, 1, 4, 8], { marker: v.marker });
      passes++;
    }
    const code_ = await done;
    clearTimeout(killer);
    q.check(code_ === 0, `the swapper failed (exit ${code_}): ${err.slice(0, 300)}`);
    let stats: { iterations: number; swaps: number } | undefined;
    try {
      stats = JSON.parse(out.trim());
    } catch {
      q.add(`the swapper printed no count: ${out.slice(0, 200)}`);
    }
    q.check(stats && stats.swaps > 0, `the swapper never swapped: ${out}`);
    q.check(passes >= 3, `only ${passes} passes ran during the swaps`);
    q.check(Date.now() - t0 < LOOP_MS + 20_000, `the race took ${Date.now() - t0} ms`);
    victimProblems(q, v, `${passes} passes racing ${what} (${stats?.swaps} swaps)`);
    for (const m of q.list) p.add(`[${what}] ${m}`);
    process.stdout.write(`  race ${what}: ${passes} passes, ${stats?.swaps} swaps in ${Date.now() - t0} ms\n`);
  }
  p.assertNone('races');
  assertVictimUnchanged(v);
});

test("9. escape sequences in an object name the user planted: root's listing prints none raw", () => {
  if (!hostileReady('hostile pool: escape sequences')) return;
  const pool = userPool();
  const p = new Problems();
  const evil = 'evil\x1b]0;pwned\x07\x1b[2J\x1b[31mred\x9b1m\r\nforged line\u202e';
  for (const d of pool.disks) {
    const m = readManifest(d, 'beta');
    m.name = evil;
    writeSigned(manifestFile(d, evil), m);
  }
  // Damage the extent the planted object shares with beta: the scrub's finding names the objects.
  const id: string = readManifest(pool.disks[0], 'beta').extents[0].id;
  const shard = pool.disks.flatMap((d) => shardsOn(d)).find((f) => path.basename(f).startsWith(id));
  assert.ok(shard, `a shard of extent ${id}`);
  fs.truncateSync(shard, 10);
  const raw = /[\x1b\x07\x9b\r\u202e]/;
  for (const [args, allowed] of [
    [['ls', '--pool', pool.root], [0]],
    [['status', '--pool', pool.root], [0]],
  ] as [string[], number[]][]) {
    const r = p.judge(tool('dfs-pool', args), allowed);
    p.check(!raw.test(r.stdout) && !raw.test(r.stderr), `dfs-pool ${args[0]}: raw control characters in its output: ${JSON.stringify(r.stdout.slice(0, 400))}`);
    if (args[0] === 'ls') p.check(r.stdout.includes('evil\\x1b'), `dfs-pool ls does not show the name escaped: ${JSON.stringify(r.stdout.slice(0, 400))}`);
  }
  const s = p.judge(tool('dfs-scrub', ['--pool', pool.root, '--verbose']), [4]);
  p.check(!raw.test(s.stdout) && !raw.test(s.stderr), `dfs-scrub: raw control characters in its report: ${JSON.stringify(s.stdout.slice(0, 600))}`);
  p.assertNone('escape sequences');
});

test('(timing)', () => {
  process.stdout.write(`  hostile-pool: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
});

test.run();
