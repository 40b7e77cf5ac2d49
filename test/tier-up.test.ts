// Once a pass's verify threads have loaded, V8's interrupt budget is raised
// for the whole process (src/core/tier-up.ts, VerifyWorkers.started): a
// function is then handed to the optimizing compiler only after running
// eight times as long. Real node processes, the compiler made synchronous so
// that the verdict is the function's state after a known number of calls, in
// the main thread and in a thread started afterwards.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { scratchDir } from './helpers';

const dir = scratchDir('dfs-tier-up-');
const workersModule = path.join(__dirname, '..', 'src', 'scrub', 'workers.js');

// Node 20's default budget optimizes this function after 40-50 calls, the raised one after 350-400. (Node 18,
// Debian 12's, measured by hand in the release test's host: 150-200 calls, and 400-800 raised.)
const CALLS = 200;

const probe = path.join(dir, 'probe.js');
fs.writeFileSync(
  probe,
  `const { Worker, isMainThread, parentPort } = require('node:worker_threads');
function optimizedAfter(calls) {
  function f(n) { let s = 0; for (let i = 0; i < n; i++) s += i & 7; return s; }
  for (let k = 0; k < calls; k++) f(50);
  return (%GetOptimizationStatus(f) & 16) !== 0; // V8's kOptimized bit
}
function probe(done) {
  const main = optimizedAfter(${CALLS});
  new Worker(__filename).on('message', (thread) => {
    console.log(JSON.stringify({ main, thread }));
    done();
  });
}
if (!isMainThread) parentPort.postMessage(optimizedAfter(${CALLS}));
else if (process.argv[2] !== 'verify-threads') probe(() => {});
else {
  const { VerifyWorkers } = require(${JSON.stringify(workersModule)});
  const threads = new VerifyWorkers(2, []);
  threads.started.then(() => probe(() => threads.close()));
}
`,
);

function optimized(flags: string[], load: '' | 'verify-threads'): { main: boolean; thread: boolean } {
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--no-concurrent-recompilation', ...flags, probe, load], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('without verify threads, the probe function is optimized (the probe sees it)', () => {
  assert.equal(optimized([], ''), { main: true, thread: true });
});

test('once verify threads have started, it is not yet, in the main thread nor in a thread started afterwards', () => {
  assert.equal(optimized([], 'verify-threads'), { main: false, thread: false });
});

test("an interrupt budget the operator gave node wins over the pass's", () => {
  assert.equal(optimized(['--interrupt-budget=67584'], 'verify-threads'), { main: true, thread: true });
});

test.run();
