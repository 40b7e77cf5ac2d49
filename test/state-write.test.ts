// The scrub state written through the thread pool (a repair batch's pending
// record): the state as it was when asked, atomically; a write that cannot be
// made says where, and leaves the old state and no temp file.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomicAsync } from '../src/core/atomic-file';
import { emptyState, loadState, saveState, saveStateAsync, stateFile } from '../src/scrub/state';
import { scratchDir } from './helpers';

function poolRoot(): string {
  const root = scratchDir('dfs-state-write-');
  fs.mkdirSync(path.dirname(stateFile(root)), { recursive: true });
  return root;
}

test('saveStateAsync writes the state as it was at the call, atomically', async () => {
  const root = poolRoot();
  const state = emptyState('pool-1');
  state.counters.repairsSuccessful = 1;
  const written = saveStateAsync(root, state);
  state.counters.repairsSuccessful = 2; // changed after the call: not what this write holds
  await written;
  assert.is(loadState(root, 'pool-1').counters.repairsSuccessful, 1);
  assert.equal(fs.readdirSync(path.dirname(stateFile(root))).filter((n) => n.startsWith('.tmp-')), [], 'no temp file');
});

test('saveStateAsync writes what saveState writes, byte for byte but the time', async () => {
  const root = poolRoot();
  const state = emptyState('pool-2');
  state.counters.repairsSuccessful = 7;
  saveState(root, state);
  const sync = fs.readFileSync(stateFile(root), 'utf8');
  await saveStateAsync(root, state);
  const pooled = fs.readFileSync(stateFile(root), 'utf8');
  const noTime = (s: string) => s.replace(/"updatedAt": "[^"]*"/, '');
  assert.is(noTime(pooled), noTime(sync));
  assert.is(fs.statSync(stateFile(root)).mode & 0o777, 0o644);
});

test('writeFileAtomicAsync that cannot write names the file, leaves the old one and no temp file', async () => {
  const dir = scratchDir('dfs-atomic-async-');
  const file = path.join(dir, 'f');
  fs.writeFileSync(file, 'old');
  fs.chmodSync(dir, 0o555);
  try {
    let failure: unknown;
    try {
      await writeFileAtomicAsync(file, Buffer.from('new'));
    } catch (err) {
      failure = err;
    }
    // As root the mode does not stop it: then it simply worked.
    if (process.getuid?.() === 0) assert.is(fs.readFileSync(file, 'utf8'), 'new');
    else assert.match(String(failure), new RegExp(`cannot write ${file}`));
  } finally {
    fs.chmodSync(dir, 0o755);
  }
  const missing = path.join(dir, 'no-such-dir', 'f');
  let failure: unknown;
  try {
    await writeFileAtomicAsync(missing, Buffer.from('x'));
  } catch (err) {
    failure = err;
  }
  assert.match(String(failure), /cannot write .*no-such-dir\/f/);
  assert.equal(fs.readdirSync(dir).sort(), ['f'], 'no temp file left');
});

test.run();
