// The hash functions hold no memory per call. @napi-rs/blake-hash 1.3.4 never
// frees a Blake3Hasher (~2.3 KB each); a daemon proving every manifest copy on
// every pass grew by gigabytes on a pool of 150k objects. src/core/hash.ts
// reuses one hasher per thread; this guards that (the leak it replaced grew
// resident memory by ~700 MB over the same calls).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const HASH = path.join(__dirname, '..', 'src', 'core', 'hash.js');

test('300k blake3Hex and extentId calls: resident memory grows by less than 100 MB', () => {
  const script = `
    const { blake3Hex, extentId } = require(${JSON.stringify(HASH)});
    const rss = () => process.memoryUsage().rss;
    const before = rss();
    const data = Buffer.alloc(300, 7);
    for (let i = 0; i < 150000; i++) { blake3Hex('manifest ' + i); extentId({ kind: 'mirror', copies: 2 }, data); }
    global.gc();
    process.stdout.write(String(rss() - before));
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const grown = Number(r.stdout);
  assert.ok(grown < 100e6, `resident memory grew by ${(grown / 1e6).toFixed(0)} MB`);
});

test.run();
