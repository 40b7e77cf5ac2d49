// A nice value is a thread's own on Linux: the one a pass's intensity sets
// on the main thread reaches its verify threads with their next request.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { openPool } from '../src/core/pool';
import { extentsDir } from '../src/core/layout';
import { VerifyWorkers } from '../src/scrub/workers';
import { ScrubPass } from '../src/scrub/pass';
import { pacingFor } from '../src/scrub/pacing';
import type { ExtentPlan } from '../src/scrub/inventory';
import { clonePool, makePool, readManifests, shardsOfExtent } from './scrub-fixtures.test';

const small = makePool({ extentSize: '64K', objects: [{ name: 'obj', size: 300_000 }] });
/** At max, 4 extents an operation: five operations for every verify thread, however many cores. */
const EXTENTS = 20 * pacingFor('max').parallel;
const many = makePool({ extentSize: '64K', objects: [{ name: 'obj', size: EXTENTS * 64 * 1024 }] });

/** A thread's nice value: field 19 of its stat file (the fields after the command's closing parenthesis). */
function niceOf(statFile: string): number {
  const stat = fs.readFileSync(statFile, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

/** The main thread's (its task id is the process id). */
const mainNice = () => niceOf('/proc/self/stat');

/** How many of this process's threads run at `nice`. */
function threadsAt(nice: number): number {
  return fs.readdirSync('/proc/self/task').filter((tid) => niceOf(`/proc/self/task/${tid}/stat`) === nice).length;
}

test('verify threads take the nice value asked of them with their next request; the main thread keeps its own', async () => {
  const fx = clonePool(small);
  const pool = openPool(fx.pool);
  const dirs: string[] = [];
  for (const d of pool.disks) dirs[d.index] = extentsDir(d.path);
  const e = readManifests(fx.pool).get('obj')!.extents[0];
  const plan: ExtentPlan = { id: e.id, scheme: 'rs:4+2', length: e.length, files: shardsOfExtent(fx, e.id).map((s) => ({ index: s.index, disk: s.disk, path: s.path, regular: true })) };
  const workers = new VerifyWorkers(2, dirs);
  // Two requests in flight at once: one on each thread.
  const both = () => Promise.all([workers.verify([plan], 0, 0), workers.verify([plan], 0, 0)]);
  try {
    await both();
    assert.is(threadsAt(7), 0, 'none at 7 before it is asked');
    workers.nice = 7;
    const [a] = await both();
    assert.is(a.result![0].health, 'healthy', 'the request itself answered');
    assert.is(threadsAt(7), 2, 'both verify threads at 7');
    assert.is(mainNice(), 0, 'the main thread at its own');
    if (process.getuid?.() !== 0) return void process.stderr.write('\n*** SKIP: not root: raising the threads back to 0 is not proven\n');
    workers.nice = 0;
    await both();
    assert.is(threadsAt(7), 0, 'back at 0 (root may raise it)');
  } finally {
    await workers.close();
  }
});

test('a pass at max runs its verify threads a step below its main thread', async () => {
  const fx = clonePool(many);
  const max = pacingFor('max');
  assert.ok(max.verifyNice > max.nice, 'max: the verify threads below the main thread');
  const before = mainNice();
  const atVerifyNice: number[] = [];
  const mainAt: number[] = [];
  const pass = new ScrubPass(openPool(fx.pool), {
    mode: 'verify',
    intensity: 'max',
    runner: 'test',
    beforeOperation: async () => {
      atVerifyNice.push(threadsAt(max.verifyNice));
      mainAt.push(mainNice());
    },
  });
  const report = await pass.run();
  assert.is(report.extents.healthy, EXTENTS, 'every extent verified');
  assert.ok(atVerifyNice.length >= 3, `operations seen: ${atVerifyNice.length}`);
  assert.is(atVerifyNice[0], 0, 'no thread lowered before the first request');
  assert.is(Math.max(...atVerifyNice), max.parallel, `every verify thread at ${max.verifyNice} once asked: ${atVerifyNice}`);
  assert.equal([...new Set(mainAt)], [before], 'the main thread keeps its own');
});

test.run();
