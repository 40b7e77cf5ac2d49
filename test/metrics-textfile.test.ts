// dfs-metrics --textfile-dir: the file node_exporter's textfile collector
// reads. Written whole or not at all under a name the collector's *.prom glob
// never sees half-written, without timestamps or process metrics; and a real
// prometheus-node-exporter exports it without a scrape error.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { cli, cliAsync, collect, requireTool, scratchDir } from './helpers';
import { cleanState, makePool, sample, unrecoverableState } from './metrics-fixtures';
import { textfileTempPath, writeTextfile } from '../src/metrics/textfile';

const PROM_LINE = /^(# (HELP|TYPE) .*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? [^ ]+|)$/;

test('--once writes DIR/dynamicfs.prom: valid, no timestamps, no process metrics, no temp files left', () => {
  const dir = scratchDir('dfs-metrics-tf-');
  const pool = makePool(dir);
  cleanState(pool);
  const out = path.join(dir, 'textfiles');
  fs.mkdirSync(out);
  const r = cli('dfs-metrics', ['--pool', pool.root, '--textfile-dir', out, '--once']);
  assert.is(r.status, 0, r.stderr);
  assert.equal(fs.readdirSync(out), ['dynamicfs.prom']);
  const file = path.join(out, 'dynamicfs.prom');
  assert.is(fs.statSync(file).mode & 0o777, 0o644, 'node_exporter runs as another user');
  const text = fs.readFileSync(file, 'utf8');
  assert.ok(text.endsWith('\n'));
  for (const line of text.split('\n')) assert.ok(PROM_LINE.test(line), `no timestamp, one value per sample: ${line}`);
  assert.not.match(text, /^(process|nodejs)_/m);
  assert.is(sample(text, 'dynamicfs_scrubs_completed', { pool: pool.root }), 3);
  if (!requireTool('promtool')) return;
  const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.is((check.stdout + check.stderr).trim().split('\n').filter((l) => !/^dynamicfs_(scrubs_completed|scrub_issues_found|scrub_repairs_attempted|scrub_repairs_successful) counter metrics should have "_total" suffix$/.test(l)).join('\n'), '');
});

test('the temp name is in the same directory and does not end in .prom', () => {
  const tmp = textfileTempPath('/var/lib/prometheus/node-exporter/dynamicfs.prom');
  assert.is(path.dirname(tmp), '/var/lib/prometheus/node-exporter');
  assert.not.ok(tmp.endsWith('.prom'), tmp);
  assert.ok(path.basename(tmp).startsWith('.'), 'hidden as well');
});

test('the file is replaced by rename: a reader holding the old file still reads it whole', () => {
  const dir = scratchDir('dfs-metrics-tf-');
  const file = writeTextfile(dir, 'dynamicfs.prom', 'a 1\n');
  const fd = fs.openSync(file, 'r');
  try {
    writeTextfile(dir, 'dynamicfs.prom', 'a 2\nb 3\n');
    assert.is(fs.readFileSync(fd, 'utf8'), 'a 1\n', 'the old inode was never rewritten in place');
    assert.is(fs.readFileSync(file, 'utf8'), 'a 2\nb 3\n');
    assert.equal(fs.readdirSync(dir), ['dynamicfs.prom']);
  } finally {
    fs.closeSync(fd);
  }
});

test('a write that fails leaves no temp file and exits 8 naming the file', () => {
  const dir = scratchDir('dfs-metrics-tf-');
  const pool = makePool(dir);
  const r = cli('dfs-metrics', ['--pool', pool.root, '--textfile-dir', path.join(dir, 'absent'), '--once']);
  assert.is(r.status, 8, r.stderr);
  assert.match(r.stderr, path.join(dir, 'absent', 'dynamicfs.prom'));
});

test('--once with an unreadable pool writes pool_readable 0 and exits 8', () => {
  const dir = scratchDir('dfs-metrics-tf-');
  const good = makePool(dir, 'good');
  cleanState(good);
  const gone = path.join(dir, 'gone');
  const r = cli('dfs-metrics', ['--pool', good.root, '--pool', gone, '--textfile-dir', dir, '--textfile-name', 'two.prom', '--once']);
  assert.is(r.status, 8, r.stderr);
  assert.match(r.stderr, path.join(gone, 'pool.json'));
  const text = fs.readFileSync(path.join(dir, 'two.prom'), 'utf8');
  assert.is(sample(text, 'dynamicfs_pool_readable', { pool: gone }), 0);
  assert.is(sample(text, 'dynamicfs_pool_readable', { pool: good.root }), 1);
});

test('--interval rewrites the file as the state changes; SIGTERM exits 0', async () => {
  const dir = scratchDir('dfs-metrics-tf-');
  const pool = makePool(dir);
  cleanState(pool);
  const file = path.join(dir, 'dynamicfs.prom');
  const child = cliAsync('dfs-metrics', ['--pool', pool.root, '--textfile-dir', dir, '--interval', '1s']);
  const done = collect(child);
  const waitFor = async (pred: (text: string) => boolean, what: string) => {
    for (let i = 0; i < 100; i++) {
      const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
      if (pred(text)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.unreachable(`timed out waiting for ${what}`);
  };
  try {
    await waitFor((t) => sample(t, 'dynamicfs_extents_unrecoverable', { pool: pool.root }) === 0, 'the first write');
    unrecoverableState(pool);
    await waitFor((t) => sample(t, 'dynamicfs_extents_unrecoverable', { pool: pool.root }) === 1, 'the rewrite');
  } finally {
    child.kill('SIGTERM');
  }
  const r = await done;
  assert.is(r.status, 0, r.stderr);
  assert.equal(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp')), []);
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

test('prometheus-node-exporter exports our textfiles with node_textfile_scrape_error 0', async () => {
  if (!requireTool('prometheus-node-exporter')) return;
  const dir = scratchDir('dfs-metrics-tf-');
  const out = path.join(dir, 'textfiles');
  fs.mkdirSync(out);
  // Two pools in two files (as two textfile@ units write them): the collector merges the families.
  const a = makePool(dir, 'a');
  const b = makePool(dir, 'b');
  cleanState(a);
  unrecoverableState(b);
  for (const [p, name] of [[a, 'dynamicfs-a.prom'], [b, 'dynamicfs-b.prom']] as const) {
    const r = cli('dfs-metrics', ['--pool', p.root, '--textfile-dir', out, '--textfile-name', name, '--once']);
    assert.is(r.status, 0, r.stderr);
  }
  let text = '';
  let log = '';
  // A free port can be taken between our probe and the exporter's bind: retry with another.
  for (let attempt = 0; attempt < 3 && !text; attempt++) {
    const port = await freePort();
    const exporter = spawn('prometheus-node-exporter', [
      '--collector.disable-defaults',
      '--collector.textfile',
      `--collector.textfile.directory=${out}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    exporter.stderr.setEncoding('utf8').on('data', (s: string) => (log += s));
    try {
      for (let i = 0; i < 50 && exporter.exitCode === null; i++) {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/metrics`);
          text = await res.text();
          if (res.ok) break;
        } catch {
          /* not listening yet */
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      exporter.kill('SIGKILL');
      await new Promise((r) => (exporter.exitCode !== null || exporter.signalCode !== null ? r(null) : exporter.once('exit', r)));
    }
  }
  assert.ok(text, `node_exporter never answered: ${log}`);
  assert.is(sample(text, 'node_textfile_scrape_error', {}), 0, text.split('\n').filter((l) => l.startsWith('node_textfile')).join('\n') + log);
  assert.is(sample(text, 'dynamicfs_extents_unrecoverable', { pool: b.root }), 1);
  assert.is(sample(text, 'dynamicfs_extents_unrecoverable', { pool: a.root }), 0);
  assert.is(sample(text, 'dynamicfs_scrubs_completed', { pool: a.root }), 3);
  assert.match(text, /^# TYPE dynamicfs_scrubs_completed counter$/m);
  for (const name of ['dynamicfs-a.prom', 'dynamicfs-b.prom']) {
    assert.ok(sample(text, 'node_textfile_mtime_seconds', { file: path.join(out, name) })! > 0, `${name} read (its mtime shows staleness)`);
  }
});

test.run();
