// dfs-metrics as an HTTP server, run as a real process: /metrics checked by
// promtool, /health codes and JSON, 404/405/HEAD, option errors, a port in
// use, SIGTERM, and the guide's `dynamicfs metrics-server` form.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { cli, repoRoot, requireTool, scratchDir } from './helpers';
import { cleanState, makePool, sample, serve, typeOf, unrecoverableState, writeState } from './metrics-fixtures';
import type { HealthDocument } from '../src/metrics/health';

const health = async (res: Response): Promise<HealthDocument> => (await res.json()) as HealthDocument;

const pool = () => makePool(scratchDir('dfs-metrics-http-'));

test('GET /metrics: text format 0.0.4; promtool complains only of the four guide counters', async () => {
  const p = pool();
  cleanState(p);
  const s = await serve(['--pool', p.root]);
  try {
    const res = await fetch(`${s.url}/metrics`);
    assert.is(res.status, 200);
    assert.is(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    assert.is(sample(text, 'dynamicfs_scrubs_completed', { pool: p.root }), 3);
    assert.is(typeOf(text, 'dynamicfs_scrubs_completed'), 'counter');
    if (!requireTool('promtool')) return;
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    const complaints = (check.stdout + check.stderr).trim().split('\n').sort();
    assert.equal(complaints, [
      'dynamicfs_scrub_issues_found counter metrics should have "_total" suffix',
      'dynamicfs_scrub_repairs_attempted counter metrics should have "_total" suffix',
      'dynamicfs_scrub_repairs_successful counter metrics should have "_total" suffix',
      'dynamicfs_scrubs_completed counter metrics should have "_total" suffix',
    ]);
  } finally {
    await s.stop();
  }
});

test('every scrape reads the state afresh; /health follows; unrecoverable gives 503', async () => {
  const p = pool();
  const s = await serve(['--pool', p.root]);
  try {
    let res = await fetch(`${s.url}/health`);
    assert.is(res.status, 200);
    assert.is(res.headers.get('content-type'), 'application/json; charset=utf-8');
    let doc = await health(res);
    assert.is(doc.state, 'unknown', 'never scrubbed');
    assert.is(doc.pools[0].pool, p.root);
    assert.is(doc.pools[0].lastScrub, null);

    cleanState(p);
    res = await fetch(`${s.url}/health`);
    assert.is(res.status, 200);
    doc = await health(res);
    assert.is(doc.state, 'healthy');
    assert.equal(doc.pools[0].extents, { healthy: 10, degraded: 0, unrecoverable: 0 });
    assert.is(doc.pools[0].daemon!.running, false);
    assert.ok(Date.parse(doc.pools[0].lastScrub!.finishedAt) > 0, 'last scrub time');

    writeState(p, (st) => {
      st.health = { healthy: 9, degraded: 1, unrecoverable: 0 };
      st.counters.scrubsCompleted = 1;
    });
    res = await fetch(`${s.url}/health`);
    assert.is(res.status, 200, 'degraded data is still readable');
    assert.is((await health(res)).state, 'degraded');

    unrecoverableState(p);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(metrics, `dynamicfs_extents_unrecoverable{pool="${p.root}"} 1\n`);
    res = await fetch(`${s.url}/health`);
    assert.is(res.status, 503);
    doc = await health(res);
    assert.is(doc.state, 'unrecoverable');
    assert.is(doc.pools[0].extents!.unrecoverable, 1);
  } finally {
    await s.stop();
  }
});

test('404 for other paths, 405 for other methods, HEAD without a body, query strings ignored', async () => {
  const p = pool();
  cleanState(p);
  const s = await serve(['--pool', p.root]);
  try {
    for (const route of ['/metricsx', '/health/x', '/favicon.ico', '/index.html']) {
      const res = await fetch(`${s.url}${route}`);
      assert.is(res.status, 404, route);
      await res.text();
    }
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const res = await fetch(`${s.url}/metrics`, { method, body: method === 'DELETE' ? undefined : 'x' });
      assert.is(res.status, 405, method);
      assert.is(res.headers.get('allow'), 'GET, HEAD');
      await res.text();
    }
    const head = await fetch(`${s.url}/metrics`, { method: 'HEAD' });
    assert.is(head.status, 200);
    assert.is(await head.text(), '');
    const q = await fetch(`${s.url}/metrics?name[]=x`);
    assert.is(q.status, 200);
    await q.text();
  } finally {
    await s.stop();
  }
});

test('SIGTERM closes the server and exits 0, also with a keep-alive connection open', async () => {
  const p = pool();
  const s = await serve(['--pool', p.root]);
  // fetch keeps its connection open, as Prometheus does.
  await (await fetch(`${s.url}/metrics`)).text();
  const r = await s.stop();
  assert.is(r.status, 0, r.stderr);
  assert.is(r.signal, null);
});

test('several pools from one endpoint, each by its absolute path', async () => {
  const dir = scratchDir('dfs-metrics-http-');
  const a = makePool(dir, 'a');
  const b = makePool(dir, 'b');
  cleanState(a);
  unrecoverableState(b);
  // Relative paths become absolute labels.
  const child = await serve(['--pool', path.relative(process.cwd(), a.root), '--pool', b.root]);
  try {
    const text = await (await fetch(`${child.url}/metrics`)).text();
    assert.is(sample(text, 'dynamicfs_extents_unrecoverable', { pool: a.root }), 0);
    assert.is(sample(text, 'dynamicfs_extents_unrecoverable', { pool: b.root }), 1);
    const res = await fetch(`${child.url}/health`);
    assert.is(res.status, 503);
    const doc = await health(res);
    assert.equal(doc.pools.map((x) => x.state), ['healthy', 'unrecoverable']);
  } finally {
    await child.stop();
  }
});

test('a port in use: exit 8, one line naming the address', async () => {
  const p = pool();
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    const r = cli('dfs-metrics', ['--pool', p.root, '--port', String(port)], { timeout: 20_000 });
    assert.is(r.status, 8, r.stderr);
    assert.is(r.stderr, `dfs-metrics: cannot listen on 127.0.0.1:${port}: address already in use\n`);
  } finally {
    blocker.close();
  }
});

test('bad options: exit 16, one line naming the option', () => {
  const p = pool();
  const cases: [string[], string][] = [
    [['--port', '70000'], '--port'],
    [['--port', 'http'], '--port'],
    [['--port', '9090', '--port', '9091'], '--port'],
    [['--listen', 'example.com'], '--listen'],
    [['--listen', '300.1.1.1'], '--listen'],
    [['--listen', '127.0.0.1:9090'], '--listen'],
    [['--once'], '--once'],
    [['--textfile-dir', '/tmp', '--once', '--interval', '5s'], '--once'],
    [['--textfile-dir', '/tmp', '--interval', 'soon'], '--interval'],
    [['--textfile-dir', '/tmp', '--textfile-name', 'x.txt'], '--textfile-name'],
    [['--bogus'], '--bogus'],
  ];
  for (const [args, option] of cases) {
    const r = cli('dfs-metrics', ['--pool', p.root, ...args], { timeout: 20_000 });
    assert.is(r.status, 16, `${args.join(' ')}: ${r.stderr}`);
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.ok(r.stderr.includes(option), `${args.join(' ')}: "${r.stderr.trim()}" names ${option}`);
  }
  const none = cli('dfs-metrics', [], { timeout: 20_000 });
  assert.is(none.status, 16);
  assert.match(none.stderr, '--pool');
});

test('a pool that cannot be read at start: exit 8 naming the file', () => {
  const dir = scratchDir('dfs-metrics-http-');
  const r = cli('dfs-metrics', ['--pool', path.join(dir, 'nope'), '--port', '0'], { timeout: 20_000 });
  assert.is(r.status, 8, r.stderr);
  assert.match(r.stderr, path.join(dir, 'nope', 'pool.json'));
});

test("the guide's form: dynamicfs metrics-server --pool P --port N", async () => {
  if (!fs.existsSync(path.join(repoRoot, 'dist', 'src', 'cli', 'dynamicfs.js'))) {
    throw new Error('dist/src/cli/dynamicfs.js is not built');
  }
  const p = pool();
  unrecoverableState(p);
  const s = await serve(['--pool', p.root], 'dynamicfs', ['metrics-server']);
  try {
    const text = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(text, `dynamicfs_extents_unrecoverable{pool="${p.root}"} 1\n`);
    assert.is((await fetch(`${s.url}/health`)).status, 503);
  } finally {
    const r = await s.stop();
    assert.is(r.status, 0, r.stderr);
  }
});

test.run();
