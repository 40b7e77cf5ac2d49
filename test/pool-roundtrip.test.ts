// dfs-pool round trips: put then get returns the same bytes, for every scheme
// and for the sizes around extent boundaries, through `get NAME OUT` and
// through `get NAME` to stdout. Real pools, real files, real processes.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { cliPath, diffFingerprints, fingerprintTree, scratchDir } from './helpers';

const EXTENT = 64 * 1024;
const SIZES = [0, 1, EXTENT - 1, EXTENT, EXTENT + 1, 3 * EXTENT + 4321];
// One disk more than the scheme needs, so placement has a choice to make.
const SCHEMES: [string, number][] = [
  ['mirror:2', 3],
  ['mirror:3', 4],
  ['rs:2+1', 4],
  ['rs:4+2', 7],
  ['rs:8+3', 12],
];

interface Run {
  status: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs dfs-pool asynchronously; stdout is kept as bytes (objects are binary). */
function dfsPool(args: string[], timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath('dfs-pool'), ...args], {
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout: Buffer.concat(out), stderr: err });
    });
  });
}

/** Runs thunks with at most `limit` in flight (2 cores: node start-up dominates). */
async function parallel<T>(thunks: (() => Promise<T>)[], limit = 3): Promise<T[]> {
  const results: T[] = new Array(thunks.length);
  let next = 0;
  const worker = async () => {
    while (next < thunks.length) {
      const i = next++;
      results[i] = await thunks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, thunks.length) }, worker));
  return results;
}

function expectOk(r: Run, what: string): void {
  assert.is(r.status, 0, `${what}: exit ${r.status}, stderr: ${r.stderr}`);
}

/** Every file name anywhere below dir (relative). */
function allNames(dir: string): string[] {
  return [...fingerprintTree(dir).keys()];
}

const TEMP_RE = /(^|\/)\.tmp-|\.dfs-probe-/;

for (const [scheme, disks] of SCHEMES) {
  test(`${scheme}: put then get returns identical bytes for sizes ${SIZES.join(', ')} (file and stdout)`, async () => {
    const dir = scratchDir('dfs-pool-rt-');
    const pool = path.join(dir, 'pool');
    const outDir = path.join(dir, 'out');
    fs.mkdirSync(outDir);
    expectOk(await dfsPool(['create', '--pool', pool, '--disks', String(disks), '--redundancy', scheme, '--extent-size', '64K']), 'create');

    const inputs = SIZES.map((size) => {
      const file = path.join(dir, `in-${size}`);
      const data = randomBytes(size);
      fs.writeFileSync(file, data);
      return { size, file, data, name: `obj-${size}` };
    });
    // A file whose extents are all the same bytes: stored once, listed four times.
    const zeros = { size: 4 * EXTENT, file: path.join(dir, 'in-zeros'), data: Buffer.alloc(4 * EXTENT), name: 'zeros' };
    fs.writeFileSync(zeros.file, zeros.data);
    inputs.push(zeros);

    // Puts (no --redundancy: the pool default is the scheme under test).
    const puts = await parallel(inputs.map((o) => () => dfsPool(['put', '--pool', pool, o.file, o.name, '--json'])));
    puts.forEach((r, i) => {
      const o = inputs[i];
      expectOk(r, `put ${o.name}`);
      const j = JSON.parse(r.stdout.toString('utf8'));
      assert.is(j.name, o.name);
      assert.is(j.size, o.size, `put ${o.name}: size`);
      assert.is(j.scheme, scheme, `put ${o.name}: scheme`);
      assert.is(j.extents, Math.ceil(o.size / EXTENT), `put ${o.name}: extent count`);
    });
    const zj = JSON.parse(puts[puts.length - 1].stdout.toString('utf8'));
    assert.is(zj.extentsStored, 1, 'four identical extents are stored once');
    assert.is(zj.extentsDeduplicated, 3);

    // ls agrees.
    const ls = await dfsPool(['ls', '--pool', pool, '--json']);
    expectOk(ls, 'ls');
    const listed = JSON.parse(ls.stdout.toString('utf8')).objects as { name: string; size: number; scheme: string }[];
    assert.equal(
      listed.map((o) => `${o.name}=${o.size}/${o.scheme}`).sort(),
      inputs.map((o) => `${o.name}=${o.size}/${scheme}`).sort(),
    );

    const before = fingerprintTree(pool);
    // get NAME OUT
    const gets = await parallel(inputs.map((o) => () => dfsPool(['get', '--pool', pool, o.name, path.join(outDir, o.name)])));
    gets.forEach((r, i) => {
      const o = inputs[i];
      expectOk(r, `get ${o.name} OUT`);
      assert.is(r.stdout.length, 0, `get ${o.name} OUT prints nothing on stdout`);
      assert.is(r.stderr, '', `get ${o.name} OUT: no warnings on a healthy pool`);
      const got = fs.readFileSync(path.join(outDir, o.name));
      assert.is(got.length, o.size, `get ${o.name} OUT: length`);
      assert.ok(got.equals(o.data), `get ${o.name} OUT: bytes differ`);
    });
    // get NAME (stdout)
    const streamed = await parallel(inputs.map((o) => () => dfsPool(['get', '--pool', pool, o.name])));
    streamed.forEach((r, i) => {
      const o = inputs[i];
      expectOk(r, `get ${o.name} > stdout`);
      assert.is(r.stdout.length, o.size, `get ${o.name} to stdout: length`);
      assert.ok(r.stdout.equals(o.data), `get ${o.name} to stdout: bytes differ`);
    });
    // get writes nothing to the pool and leaves only the OUT files behind.
    assert.equal(diffFingerprints(before, fingerprintTree(pool)), [], 'get changed the pool');
    assert.equal(fs.readdirSync(outDir).sort(), inputs.map((o) => o.name).sort());
    const temps = [...allNames(dir)].filter((n) => TEMP_RE.test(n));
    assert.equal(temps, [], 'temp files left behind');
  });
}

test('get OUT over an existing file replaces it whole; a second put of a name exits 8 and --replace replaces it', async () => {
  const dir = scratchDir('dfs-pool-rt-');
  const pool = path.join(dir, 'pool');
  expectOk(await dfsPool(['create', '--pool', pool, '--disks', '3', '--redundancy', 'rs:2+1', '--extent-size', '64K']), 'create');
  const a = randomBytes(2 * EXTENT + 7);
  const b = randomBytes(EXTENT + 3);
  fs.writeFileSync(path.join(dir, 'a'), a);
  fs.writeFileSync(path.join(dir, 'b'), b);
  expectOk(await dfsPool(['put', '--pool', pool, path.join(dir, 'a'), 'obj']), 'put a');
  const out = path.join(dir, 'out.bin');
  fs.writeFileSync(out, randomBytes(5 * EXTENT)); // longer than the object: must not keep a tail
  expectOk(await dfsPool(['get', '--pool', pool, 'obj', out]), 'get over existing file');
  assert.ok(fs.readFileSync(out).equals(a));

  const poolBefore = fingerprintTree(pool);
  const again = await dfsPool(['put', '--pool', pool, path.join(dir, 'b'), 'obj']);
  assert.is(again.status, 8, `put over an existing object: ${again.stderr}`);
  assert.match(again.stderr, /obj/);
  assert.equal(diffFingerprints(poolBefore, fingerprintTree(pool)), [], 'a refused put changed the pool');

  expectOk(await dfsPool(['put', '--pool', pool, path.join(dir, 'b'), 'obj', '--replace']), 'put --replace');
  const r = await dfsPool(['get', '--pool', pool, 'obj']);
  expectOk(r, 'get after replace');
  assert.ok(r.stdout.equals(b), 'get after --replace returns the new bytes');
});

test('switches (--json, --replace) may come before the positional arguments', async () => {
  // mri only knows a flag is a switch when told; otherwise `--json FILE` takes
  // FILE as the value of --json and the command sees one argument too few.
  const dir = scratchDir('dfs-pool-rt-');
  const pool = path.join(dir, 'pool');
  expectOk(await dfsPool(['create', '--pool', pool, '--disks', '2', '--redundancy', 'mirror:2', '--extent-size', '64K']), 'create');
  const a = randomBytes(3000);
  const b = randomBytes(4000);
  fs.writeFileSync(path.join(dir, 'a'), a);
  fs.writeFileSync(path.join(dir, 'b'), b);
  const put = await dfsPool(['put', '--pool', pool, '--json', path.join(dir, 'a'), 'obj']);
  expectOk(put, 'put --json FILE NAME');
  assert.is(JSON.parse(put.stdout.toString('utf8')).name, 'obj');
  expectOk(await dfsPool(['put', '--pool', pool, '--replace', path.join(dir, 'b'), 'obj']), 'put --replace FILE NAME');
  const got = await dfsPool(['get', '--pool', pool, '--json', 'obj', path.join(dir, 'out')]);
  expectOk(got, 'get --json NAME OUT');
  assert.ok(fs.readFileSync(path.join(dir, 'out')).equals(b), 'get --json NAME OUT wrote the replaced object to OUT');
  const rm = await dfsPool(['rm', '--pool', pool, '--json', 'obj']);
  expectOk(rm, 'rm --json NAME');
  assert.is(JSON.parse(rm.stdout.toString('utf8')).name, 'obj');
});

test('the object name defaults to the file name', async () => {
  const dir = scratchDir('dfs-pool-rt-');
  const pool = path.join(dir, 'pool');
  expectOk(await dfsPool(['create', '--pool', pool, '--disks', '2', '--redundancy', 'mirror:2', '--extent-size', '64K']), 'create');
  const data = randomBytes(1000);
  fs.writeFileSync(path.join(dir, 'notes.txt'), data);
  expectOk(await dfsPool(['put', '--pool', pool, path.join(dir, 'notes.txt')]), 'put');
  const r = await dfsPool(['get', '--pool', pool, 'notes.txt']);
  expectOk(r, 'get notes.txt');
  assert.ok(r.stdout.equals(data));
});

test('get OUT never replaces a FIFO at OUT with a regular file', async () => {
  // `dfs-pool get NAME /dev/null` as root must not turn /dev/null into a file;
  // a FIFO is the safe stand-in for a special file here.
  if (spawnSync('mkfifo', ['--version']).error) {
    process.stderr.write('\n*** SKIP: mkfifo not installed\n');
    return;
  }
  const dir = scratchDir('dfs-pool-rt-');
  const pool = path.join(dir, 'pool');
  expectOk(await dfsPool(['create', '--pool', pool, '--disks', '2', '--redundancy', 'mirror:2', '--extent-size', '64K']), 'create');
  const data = randomBytes(EXTENT + 5);
  fs.writeFileSync(path.join(dir, 'in'), data);
  expectOk(await dfsPool(['put', '--pool', pool, path.join(dir, 'in'), 'obj']), 'put');
  const fifo = path.join(dir, 'fifo');
  assert.is(spawnSync('mkfifo', [fifo]).status, 0);
  // A reader on the FIFO, as a shell pipeline would have.
  const caught = path.join(dir, 'caught');
  const reader = spawn('sh', ['-c', 'exec cat "$1" > "$2"', 'sh', fifo, caught], { stdio: 'ignore' });
  const readerDone = new Promise<void>((resolve) => reader.once('close', () => resolve()));
  try {
    const r = await dfsPool(['get', '--pool', pool, 'obj', fifo], 20_000);
    assert.ok(fs.lstatSync(fifo).isFIFO(), `get replaced the FIFO at OUT with a ${fs.lstatSync(fifo).isFile() ? 'regular file' : 'something else'} (exit ${r.status})`);
    if (r.status === 0) {
      await Promise.race([readerDone, new Promise((res) => setTimeout(res, 5000))]);
      assert.ok(fs.readFileSync(caught).equals(data), 'the reader of the FIFO got the object');
    } else {
      assert.is(r.status, 8, `refusing a special file is an operational error: ${r.stderr}`);
    }
  } finally {
    if (reader.exitCode === null) reader.kill('SIGKILL');
  }
});

test.run();
