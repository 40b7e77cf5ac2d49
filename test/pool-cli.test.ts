// dfs-pool refuses bad input: the right exit code (DESIGN §3: 8 operational,
// 16 usage), one line on stderr naming the culprit, nothing on stdout, and
// nothing created or changed anywhere (fingerprint of the whole scratch tree).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { cli, cliPath, diffFingerprints, fingerprintTree, scratchDir } from './helpers';

const dir = scratchDir('dfs-pool-cli-');
const good = path.join(dir, 'good'); // 6 disks, rs:4+2, holds "obj"
const input = path.join(dir, 'input.bin');
const data = randomBytes(150_000);

function dfsPool(args: string[]) {
  return cli('dfs-pool', args, { cwd: dir });
}

function mustSucceed(args: string[]) {
  const r = dfsPool(args);
  assert.is(r.status, 0, `dfs-pool ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r;
}

interface Refusal {
  args: string[];
  code: 8 | 16;
  culprits: (string | RegExp)[];
}

/** A command that must be refused with `code`, its one stderr line naming every culprit. */
const R = (args: string[], code: 8 | 16, ...culprits: (string | RegExp)[]): Refusal => ({ args, code, culprits });

function run(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath('dfs-pool'), ...args], { cwd: dir, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/**
 * Runs commands that must all be refused (a few at a time: they must not
 * change anything, so their order does not matter): each exits with its code
 * and prints exactly one line on stderr containing every culprit and nothing
 * on stdout, and the whole scratch tree is the same afterwards.
 */
async function refused(...cases: Refusal[]): Promise<void> {
  const before = fingerprintTree(dir);
  const results: Awaited<ReturnType<typeof run>>[] = [];
  for (let i = 0; i < cases.length; i += 3) results.push(...(await Promise.all(cases.slice(i, i + 3).map((c) => run(c.args)))));
  cases.forEach((c, i) => {
    const r = results[i];
    const what = `dfs-pool ${c.args.join(' ')}`;
    assert.is(r.status, c.code, `${what}: exit ${r.status}, stderr: ${r.stderr}`);
    assert.ok(r.stderr.endsWith('\n'), `${what}: stderr ends with a newline: ${JSON.stringify(r.stderr)}`);
    const lines = r.stderr.slice(0, -1).split('\n');
    assert.is(lines.length, 1, `${what}: one line on stderr, got:\n${r.stderr}`);
    assert.match(lines[0], /^dfs-pool: /, `${what}: the line says who speaks`);
    for (const cul of c.culprits) {
      if (typeof cul === 'string') assert.ok(lines[0].includes(cul), `${what}: stderr does not name ${cul}: ${lines[0]}`);
      else assert.match(lines[0], cul, `${what}: stderr`);
    }
    assert.is(r.stdout, '', `${what}: stdout must be empty`);
  });
  assert.equal(diffFingerprints(before, fingerprintTree(dir)), [], `changed files: ${cases.map((c) => c.args.join(' ')).join(' | ')}`);
}

test.before(() => {
  fs.writeFileSync(input, data);
  mustSucceed(['create', '--pool', good, '--disks', '6', '--redundancy', 'rs:4+2', '--extent-size', '64K']);
  mustSucceed(['put', '--pool', good, input, 'obj']);
});

test('unknown or invalid redundancy: exit 16 at create and at put', async () => {
  const fresh = path.join(dir, 'new');
  await refused(
    ...['raid5', 'rs:0+2', 'mirror:1'].flatMap((bad) => [
      R(['create', '--pool', fresh, '--disks', '6', '--redundancy', bad], 16, '--redundancy', bad),
      R(['put', '--pool', good, '--redundancy', bad, input, 'other'], 16, '--redundancy', bad),
    ]),
    ...['mirror:0', 'rs:4+0', 'rs:4-2', 'mirror:', 'rs:25+2', 'rs:4+7'].map((bad) =>
      R(['create', '--pool', fresh, '--disks', '6', '--redundancy', bad], 16, '--redundancy', bad),
    ),
  );
  assert.not.ok(fs.existsSync(fresh));
});

test('an empty --redundancy is refused at put as at create (not taken as the default)', async () => {
  await refused(
    R(['create', '--pool', path.join(dir, 'new'), '--disks', '6', '--redundancy', ''], 16, '--redundancy'),
    R(['put', '--pool', good, '--redundancy', '', input, 'other'], 16, '--redundancy'),
  );
});

test('more shards than disks: exit 16 at create and at put', async () => {
  const fresh = path.join(dir, 'new');
  await refused(
    R(['create', '--pool', fresh, '--disks', '3', '--redundancy', 'rs:2+2'], 16, 'rs:2+2', '4 disks'),
    R(['create', '--pool', fresh, '--disks', '2', '--redundancy', 'mirror:3'], 16, 'mirror:3'),
    R(['create', '--pool', fresh, '--disks', '10', '--redundancy', 'rs:8+3'], 16, 'rs:8+3', '11'),
    R(['put', '--pool', good, '--redundancy', 'rs:8+3', input, 'other'], 16, 'rs:8+3'),
    R(['put', '--pool', good, '--redundancy', 'rs:5+2', input, 'other'], 16, 'rs:5+2'),
    R(['put', '--pool', good, '--redundancy', 'mirror:7', input, 'other'], 16, 'mirror:7'),
  );
});

test('other bad values at create: --disks, --extent-size, --disks with --disk: exit 16', async () => {
  const p = path.join(dir, 'new');
  await refused(
    R(['create', '--pool', p, '--disks', 'many'], 16, '--disks'),
    R(['create', '--pool', p, '--disks', '0'], 16),
    R(['create', '--pool', p, '--disks', '6', '--extent-size', '1000'], 16, '--extent-size'),
    R(['create', '--pool', p, '--disks', '6', '--extent-size', 'huge'], 16, '--extent-size'),
    R(['create', '--pool', p, '--disks', '2', '--disk', path.join(dir, 'x'), '--redundancy', 'mirror:2'], 16, '--disk'),
  );
});

test('create over an existing pool, or inside a disk of one: exit 8', async () => {
  await refused(
    R(['create', '--pool', good, '--disks', '6'], 8, good),
    R(['create', '--pool', path.join(good, 'disks', 'd0', 'inner'), '--disks', '2', '--redundancy', 'mirror:2'], 8, path.join(good, 'disks', 'd0')),
    R(['create', '--pool', path.join(good, 'disks', 'd1'), '--disks', '2', '--redundancy', 'mirror:2'], 8, path.join(good, 'disks', 'd1')),
  );
});

test("create with --disk naming another pool's disk, or no directory: exit 8", async () => {
  const free = path.join(dir, 'free-disk');
  fs.mkdirSync(free, { recursive: true });
  const theirs = path.join(good, 'disks', 'd2');
  await refused(
    R(['create', '--pool', path.join(dir, 'new'), '--disk', free, '--disk', theirs, '--redundancy', 'mirror:2'], 8, theirs),
    R(['create', '--pool', path.join(dir, 'new'), '--disk', free, '--disk', path.join(dir, 'no-such-disk'), '--redundancy', 'mirror:2'], 8, 'no-such-disk'),
  );
  fs.rmdirSync(free);
});

test('--pool that is not a pool: exit 8 for every command, nothing created', async () => {
  const p = '/nonexistent';
  const q = path.join(dir, 'nonexistent');
  fs.mkdirSync(path.join(dir, 'empty'));
  await refused(
    R(['ls', '--pool', p], 8, p),
    R(['ls', '--pool', p, '--json'], 8, p),
    R(['status', '--pool', p], 8, p),
    R(['probe-disks', '--pool', p], 8, p),
    R(['put', '--pool', p, input, 'x'], 8, p),
    R(['get', '--pool', p, 'obj', path.join(dir, 'out')], 8, p),
    R(['get', '--pool', p, 'obj'], 8, p),
    R(['rm', '--pool', p, 'obj'], 8, p),
    R(['gc', '--pool', p], 8, p),
    R(['put', '--pool', q, input, 'x'], 8, q),
    // A directory that exists but holds no pool.json.
    R(['status', '--pool', path.join(dir, 'empty')], 8, path.join(dir, 'empty', 'pool.json')),
  );
  assert.not.ok(fs.existsSync(p));
  assert.not.ok(fs.existsSync(q));
  fs.rmdirSync(path.join(dir, 'empty'));
});

test('corrupt pool.json: exit 8 naming it', async () => {
  const file = path.join(good, 'pool.json');
  const saved = fs.readFileSync(file);
  const cfg = JSON.parse(saved.toString('utf8'));
  const variants = [
    '{"format": 1, "id": ', // truncated JSON
    '',
    '[]',
    JSON.stringify({ ...cfg, format: 99 }),
    JSON.stringify({ ...cfg, disks: [] }),
    JSON.stringify({ ...cfg, redundancy: 'raid5' }),
    JSON.stringify({ ...cfg, extentSize: 'big' }),
  ];
  try {
    for (const v of variants.slice(1)) {
      fs.writeFileSync(file, v);
      await refused(R(['status', '--pool', good], 8, file));
    }
    fs.writeFileSync(file, variants[0]);
    await refused(
      R(['status', '--pool', good], 8, file),
      R(['ls', '--pool', good, '--json'], 8, file),
      R(['get', '--pool', good, 'obj', path.join(dir, 'out')], 8, file),
      R(['put', '--pool', good, input, 'x'], 8, file),
      R(['rm', '--pool', good, 'obj'], 8, file),
      R(['probe-disks', '--pool', good], 8, file),
    );
  } finally {
    fs.writeFileSync(file, saved);
  }
  mustSucceed(['status', '--pool', good]);
});

test('missing object: get and rm exit 8 naming it; get creates no OUT', async () => {
  await refused(
    R(['get', '--pool', good, 'no-such-object', path.join(dir, 'out')], 8, 'no-such-object'),
    R(['get', '--pool', good, 'no-such-object'], 8, 'no-such-object'),
    R(['rm', '--pool', good, 'no-such-object'], 8, 'no-such-object'),
    R(['rm', '--pool', good, 'no-such-object', '--json'], 8, 'no-such-object'),
  );
});

test('unreadable input to put: nonexistent path and a directory: exit 8 naming the path', async () => {
  const missing = path.join(dir, 'no-such-file');
  const sub = path.join(dir, 'a-directory');
  fs.mkdirSync(sub);
  const cases = [R(['put', '--pool', good, missing, 'x'], 8, missing), R(['put', '--pool', good, missing], 8, missing), R(['put', '--pool', good, sub, 'x'], 8, sub)];
  const locked = path.join(dir, 'locked');
  if (process.getuid?.() !== 0) {
    fs.writeFileSync(locked, 'x', { mode: 0o000 });
    cases.push(R(['put', '--pool', good, locked, 'x'], 8, locked));
  }
  await refused(...cases);
  fs.rmdirSync(sub);
  fs.rmSync(locked, { force: true });
});

test('missing --pool: exit 16 for every command', async () => {
  const cmds = [
    ['create', '--disks', '6'],
    ['put', input, 'x'],
    ['get', 'obj', path.join(dir, 'out')],
    ['get', 'obj'],
    ['ls'],
    ['ls', '--json'],
    ['rm', 'obj'],
    ['gc'],
    ['status'],
    ['probe-disks'],
    ['status', '--pool'], // --pool given without a value
  ];
  await refused(...cmds.map((c) => R(c, 16, '--pool')));
});

test('unknown option, unknown command, missing argument: exit 16', async () => {
  await refused(
    R(['ls', '--pool', good, '--frobnicate'], 16, '--frobnicate'),
    R(['status', '--pool', good, '--verbose'], 16, '--verbose'),
    R(['put', '--pool', good, input, 'x', '--redundncy', 'mirror:2'], 16, '--redundncy'),
    R(['get', '--pool', good, 'obj', '--out', path.join(dir, 'o')], 16, '--out'),
    R(['create', '--pool', path.join(dir, 'new'), '--disks', '6', '--mirror'], 16, '--mirror'),
    R(['frobnicate', '--pool', good], 16, 'frobnicate'),
    R(['get', '--pool', good], 16),
    R(['put', '--pool', good], 16),
    R([], 16),
  );
});

test('--help and --version exit 0', () => {
  const h = mustSucceed(['--help']);
  for (const c of ['create', 'put', 'get', 'ls', 'rm', 'status', 'probe-disks']) assert.ok(h.stdout.includes(c), `--help lists ${c}`);
  const v = mustSucceed(['--version']);
  assert.match(v.stdout, /\d+\.\d+\.\d+/);
  const ph = mustSucceed(['put', '--help']);
  assert.ok(ph.stdout.includes('--redundancy'));
});

test('every warning and the final error reach a slow reader of stderr', async () => {
  // A damaged read warns once per bad shard it meets. When stderr is a pipe the
  // reader has not drained yet, the process must still deliver every line
  // (and the error last) before it exits.
  // Long directory names make long warning lines (they carry the shard's path),
  // so a few hundred extents are enough to overfill a 64 KiB pipe.
  const deep = path.join(dir, 'n'.repeat(250), 'o'.repeat(250));
  const pool = path.join(deep, 'noisy');
  fs.mkdirSync(deep, { recursive: true });
  mustSucceed(['create', '--pool', pool, '--disks', '3', '--redundancy', 'mirror:3', '--extent-size', '4K']);
  const big = randomBytes(200 * 4096);
  fs.writeFileSync(path.join(dir, 'noisy.bin'), big);
  mustSucceed(['put', '--pool', pool, path.join(dir, 'noisy.bin'), 'noisy']);
  const shardsOn = (d: string) =>
    fs.readdirSync(path.join(pool, 'disks', d, 'extents')).flatMap((fan) =>
      fs.readdirSync(path.join(pool, 'disks', d, 'extents', fan)).map((f) => path.join(pool, 'disks', d, 'extents', fan, f)),
    );
  // Two of three copies truncated: every extent still readable, most of them warn.
  for (const d of ['d0', 'd1']) for (const f of shardsOn(d)) fs.truncateSync(f, 0);
  // And the last extent's third copy too: the read ends with an error line.
  const tail = big.subarray(199 * 4096);
  const victim = shardsOn('d2').find((f) => fs.readFileSync(f).subarray(128).equals(tail));
  assert.ok(victim, 'found the last extent');
  fs.truncateSync(victim!, 0);
  const victimId = path.basename(victim!).split('.')[0];

  // Reference: stderr into a file.
  const errFile = path.join(dir, 'noisy.err');
  const fd = fs.openSync(errFile, 'w');
  const ref = await new Promise<number | null>((resolve) => {
    const c = spawn(process.execPath, [cliPath('dfs-pool'), 'get', '--pool', pool, 'noisy', path.join(dir, 'noisy.out')], { stdio: ['ignore', 'ignore', fd] });
    c.once('close', (code) => resolve(code));
  });
  fs.closeSync(fd);
  const expected = fs.readFileSync(errFile, 'utf8');
  assert.is(ref, 4);
  assert.ok(expected.length > 96 * 1024, `enough warnings to fill a pipe (${expected.length} bytes)`);
  assert.ok(expected.trim().split('\n').pop()!.includes(victimId), 'the reference ends with the error');

  // Now through a pipe that nobody reads for a second, as in
  // `dfs-pool get ... 2>&1 >/dev/null | (sleep 1; cat)`.
  const slow = spawnSync(
    'bash',
    ['-c', '"$@" 2>&1 >/dev/null | { sleep 1; cat; }; exit "${PIPESTATUS[0]}"', 'bash', process.execPath, cliPath('dfs-pool'), 'get', '--pool', pool, 'noisy', path.join(dir, 'noisy.out')],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
  );
  const status = slow.status;
  const got = slow.stdout;
  assert.is(status, 4);
  const gotLines = got.split('\n').length;
  const wantLines = expected.split('\n').length;
  assert.is(gotLines, wantLines, `stderr through a slow pipe lost ${wantLines - gotLines} of ${wantLines - 1} lines; last line: ${got.trim().split('\n').pop()!.slice(0, 200)}`);
  assert.ok(got.trim().split('\n').pop()!.includes(victimId), 'the error line is last');
  assert.not.ok(fs.existsSync(path.join(dir, 'noisy.out')));
  fs.rmSync(path.join(dir, 'n'.repeat(250)), { recursive: true });
  fs.rmSync(path.join(dir, 'noisy.bin'));
  fs.rmSync(errFile);
});

test.run();
