// `make demo` runs test/demo.sh: the README's first command on a fresh machine.
// Run here whole, so a change of layout or output cannot break it unnoticed.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './helpers';

test('test/demo.sh tells the whole story and ends with "demo finished"', () => {
  const r = spawnSync('bash', [path.join(repoRoot, 'test', 'demo.sh')], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, NO_COLOR: '1' } });
  assert.is(r.status, 0, `demo.sh exit ${r.status}:\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  assert.match(r.stdout, /demo finished/);
  assert.match(r.stdout, /quarantine/i);
  assert.match(r.stdout, /dynamicfs_extents_unrecoverable\{pool="[^"]+"\} 0/);
  assert.match(r.stdout, /GET \/ -> 200 text\/html; charset=utf-8: DynamicFS: healthy/);
  assert.match(r.stdout, /^Status page: http:\/\/127\.0\.0\.1:\d+\/ /m);
});

test.run();
