import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, diffFingerprints, fingerprintTree, repoRoot, requireTool, scratchDir, which } from './helpers';

const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

/** A small tree with a file, a subdirectory, a link out of the tree and a dangling link. */
function makeTree(): { dir: string; outside: string } {
  const dir = scratchDir('dfs-helpers-');
  const outside = scratchDir('dfs-helpers-outside-');
  fs.writeFileSync(path.join(outside, 'secret'), 'must not be listed');
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.chmodSync(path.join(dir, 'sub'), 0o755); // explicit modes: independent of the umask
  fs.writeFileSync(path.join(dir, 'a.txt'), 'hello\n');
  fs.chmodSync(path.join(dir, 'a.txt'), 0o644);
  fs.writeFileSync(path.join(dir, 'sub', 'b.bin'), Buffer.alloc(3 << 20, 7)); // > one read buffer
  fs.chmodSync(path.join(dir, 'sub', 'b.bin'), 0o640);
  fs.symlinkSync(outside, path.join(dir, 'out'));
  fs.symlinkSync('no/such/target', path.join(dir, 'dangling'));
  return { dir, outside };
}

const fp = suite('fingerprintTree / diffFingerprints');

fp('describes every entry, without following links', () => {
  const { dir, outside } = makeTree();
  const f = fingerprintTree(dir);
  assert.equal([...f.keys()], ['a.txt', 'dangling', 'out', 'sub', 'sub/b.bin']);
  assert.is(f.get('a.txt'), `file 0644 size=6 sha256=${sha256('hello\n')}`);
  assert.is(f.get('sub/b.bin'), `file 0640 size=${3 << 20} sha256=${sha256(Buffer.alloc(3 << 20, 7))}`);
  assert.is(f.get('out'), `symlink -> ${outside}`);
  assert.is(f.get('dangling'), 'symlink -> no/such/target');
  assert.is(f.get('sub'), 'dir 0755');
  assert.ok(![...f.values()].some((v) => v.includes(sha256('must not be listed'))));
});

fp('equal trees give no differences; a copy is equal', () => {
  const { dir } = makeTree();
  const copy = path.join(scratchDir('dfs-helpers-copy-'), 'tree');
  fs.cpSync(dir, copy, { recursive: true, verbatimSymlinks: true });
  assert.equal(diffFingerprints(fingerprintTree(dir), fingerprintTree(copy)), []);
});

fp('finds a same-size content change, a mode change, a relinked symlink, added and removed files', () => {
  const { dir } = makeTree();
  const before = fingerprintTree(dir);
  const b = path.join(dir, 'sub', 'b.bin');
  const fd = fs.openSync(b, 'r+');
  fs.writeSync(fd, Buffer.from([8]), 0, 1, 2 << 20); // one byte in the middle, size unchanged
  fs.closeSync(fd);
  fs.chmodSync(path.join(dir, 'sub'), 0o700);
  fs.unlinkSync(path.join(dir, 'dangling'));
  fs.symlinkSync('elsewhere', path.join(dir, 'dangling'));
  fs.rmSync(path.join(dir, 'a.txt'));
  fs.writeFileSync(path.join(dir, 'sub', 'new'), '');
  const d = diffFingerprints(before, fingerprintTree(dir));
  assert.is(d.length, 5, d.join('\n'));
  assert.match(d[0], /^removed a\.txt \(file /);
  assert.is(d[1], 'changed dangling: symlink -> no/such/target -> symlink -> elsewhere');
  assert.is(d[2], 'changed sub: dir 0755 -> dir 0700');
  assert.match(d[3], /^changed sub\/b\.bin: file 0640 size=3145728 sha256=\w+ -> file 0640 size=3145728 sha256=\w+$/);
  assert.match(d[4], /^added sub\/new \(file \d{4} size=0 sha256=e3b0c442/);
});

fp('never opens a FIFO, and can leave subtrees out', () => {
  const { dir } = makeTree();
  if (!requireTool('mkfifo')) return;
  const r = spawnSync('mkfifo', [path.join(dir, 'sub', 'pipe')]);
  assert.is(r.status, 0);
  const f = fingerprintTree(dir); // would hang if the FIFO were opened for reading
  assert.match(f.get('sub/pipe')!, /^fifo \d{4}$/);
  const g = fingerprintTree(dir, { exclude: (p) => p === 'sub' });
  assert.equal([...g.keys()], ['a.txt', 'dangling', 'out']);
});

fp('mtime only when asked', () => {
  const { dir } = makeTree();
  const before = fingerprintTree(dir);
  const withTimes = fingerprintTree(dir, { mtime: true });
  const a = path.join(dir, 'a.txt');
  fs.utimesSync(a, new Date(0), new Date(0));
  assert.equal(diffFingerprints(before, fingerprintTree(dir)), []);
  assert.equal(diffFingerprints(withTimes, fingerprintTree(dir, { mtime: true })), [
    `changed a.txt: ${withTimes.get('a.txt')} -> ${withTimes.get('a.txt')!.replace(/mtime=.*/, 'mtime=0')}`,
  ]);
});

fp.run();

const other = suite('scratchDir / requireTool / cli');

/** Runs a snippet in a fresh node process that has loaded the helpers. */
function node(code: string, env: Record<string, string | undefined> = {}) {
  const e = { ...process.env, ...env };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete e[k];
  return spawnSync(process.execPath, ['-e', `const h = require(${JSON.stringify(path.join(__dirname, 'helpers'))});\n${code}`], {
    encoding: 'utf8',
    env: e,
  });
}

other('scratchDir is under tmpdir, and removed at exit unless DFS_KEEP_TMP', () => {
  const made = node(`const d = h.scratchDir('dfs-x-'); require('fs').writeFileSync(d + '/f', 'x'); console.log(d);`, { DFS_KEEP_TMP: undefined });
  assert.is(made.status, 0, made.stderr);
  const dir = made.stdout.trim();
  assert.ok(dir.startsWith(path.join(os.tmpdir(), 'dfs-x-')), dir);
  assert.not.ok(fs.existsSync(dir), `${dir} was left behind`);

  const kept = node(`console.log(h.scratchDir('dfs-x-'));`, { DFS_KEEP_TMP: '1' });
  const keptDir = kept.stdout.trim();
  assert.ok(fs.existsSync(keptDir));
  assert.match(kept.stderr, keptDir);
  fs.rmdirSync(keptDir);
});

other('scratchDir is removed when the process is killed by SIGTERM', () => {
  const r = node(`const d = h.scratchDir('dfs-x-'); console.log(d); process.kill(process.pid, 'SIGTERM'); setTimeout(() => {}, 5000);`, {
    DFS_KEEP_TMP: undefined,
  });
  assert.is(r.signal, 'SIGTERM');
  assert.not.ok(fs.existsSync(r.stdout.trim()));
});

other('requireTool: true when present, SKIP when absent, throws under CI=true', () => {
  assert.ok(requireTool('sh'));
  assert.is(which('sh'), which(which('sh')!));
  const absent = node(`console.log(h.requireTool('dfs-no-such-tool'))`, { CI: undefined });
  assert.is(absent.stdout.trim(), 'false');
  assert.match(absent.stderr, 'SKIP: dfs-no-such-tool not installed');
  const ci = node(`h.requireTool('dfs-no-such-tool')`, { CI: 'true' });
  assert.is.not(ci.status, 0);
  assert.match(ci.stderr, 'dfs-no-such-tool is not installed');
});

other('cli names an executable that is not built', () => {
  assert.throws(() => cli('dfs-no-such-cli', ['--help']), /dist\/src\/cli\/dfs-no-such-cli\.js does not exist/);
  assert.ok(fs.existsSync(path.join(repoRoot, 'package.json')));
});

other.run();
