// The exporter's HTML status page at `/`: served by a real dfs-metrics with
// the headers a self-contained page needs, every pool-given string escaped (a
// pool directory named with <script>, & and quotes), and what a person sees
// when Debian's headless Chromium loads it: each pool's health, the pass in
// progress with its bar and ETA, the last scrubs, the disks and their errors,
// the links. DFS_DOCS_SCREENSHOTS=1 saves the rendering as docs/status-page.png.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { cli, repoRoot, requireTool, scratchDir } from './helpers';
import { makePool, passSummary, serve, unrecoverableState, writeDaemonInfo, writeState } from './metrics-fixtures';
import { renderStatusPage, STATUS_PAGE_CSP, STATUS_PAGE_REFRESH_SECONDS } from '../src/metrics/status-page';
import { readSnapshots } from '../src/metrics/snapshot';
import type { Pool } from '../src/core/pool';

// A directory name holds no '/', so no closing tag: an opening one is enough to break a page.
// A nightly schedule's longest gap is 24 h everywhere but across a DST change: the page and the exporter count in UTC here.
process.env.TZ = 'UTC';

const HOSTILE = `<script>alert("x") & 'quoted'`;

/** Three pools: one mid-pass with a daemon and disk errors, one with unrecoverable extents, one named to break HTML. */
function fleet() {
  const dir = scratchDir('dfs-status-page-');
  const busy = makePool(dir, 'archive', 4, 'mirror:2');
  const broken = makePool(dir, 'scratch', 3, 'mirror:2');
  const hostile = makePool(dir, HOSTILE, 3, 'mirror:2');
  writeState(busy, (s) => {
    s.counters = { scrubsCompleted: 5, issuesFound: 3, repairsAttempted: 3, repairsSuccessful: 3, extentsScanned: 500, bytesRead: 5e8 };
    s.health = { healthy: 98, degraded: 2, unrecoverable: 0 };
    // Two days ago, for a nightly schedule: overdue.
    const finished = Date.now() - 2 * 86_400_000;
    s.lastPass = passSummary({
      outcome: 'repaired', exitCode: 1, durationSeconds: 754, extentsScanned: 100, issuesFound: 3, repairsSuccessful: 3,
      startedAt: new Date(finished - 754_000).toISOString(), finishedAt: new Date(finished).toISOString(),
    });
    s.current = {
      id: 'pass-6', mode: 'repair', runner: 'dfs-scrubd', startedAt: new Date(Date.now() - 300_000).toISOString(), cursor: '7f',
      extentsTotal: 100, extentsDone: 42, bytesTotal: 4e9, bytesDone: 1.68e9, issuesFound: 2, repairsAttempted: 0, repairsSuccessful: 0,
      health: { healthy: 40, degraded: 2, unrecoverable: 0 }, activeSeconds: 42,
    };
    s.diskErrors = { [busy.config.disks[2].id]: { read: 1, checksum: 7, write: 0 } };
  });
  writeDaemonInfo(busy, { intensity: 'medium', paused: true });
  const scheduled = cli('dfs-scrub-schedule', ['--pool', busy.root, '--frequency', 'nightly', '--backend', 'cron']);
  assert.is(scheduled.status, 0, scheduled.stderr);
  unrecoverableState(broken);
  writeState(hostile, (s) => {
    s.counters.scrubsCompleted = 1;
    s.health = { healthy: 3, degraded: 0, unrecoverable: 0 };
    s.lastPass = passSummary();
  });
  return { busy, broken, hostile };
}

const diskErrorRow = (page: string, p: Pool, index: number) =>
  new RegExp(`<tr><td class="n">${index}</td><td>${p.disks[index].path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}</td><td><span class="state online">online</span></td>\\s*<td class="n bad">1</td><td class="n bad">7</td><td class="n">0</td>`).test(page);

test('the page: each pool, its extents, its pass, its disks; pool-given text escaped', () => {
  const { busy, broken, hostile } = fleet();
  const page = renderStatusPage(readSnapshots([busy.root, broken.root, hostile.root]));
  assert.ok(page.startsWith('<!DOCTYPE html>'), 'a complete document');
  assert.match(page, `<meta http-equiv="refresh" content="${STATUS_PAGE_REFRESH_SECONDS}">`);
  assert.match(page, '<a href="/metrics">/metrics</a>');
  assert.match(page, '<a href="/health">/health</a>');
  // Self-contained: no script, no external stylesheet, image or frame.
  assert.not.match(page, /<script|<link|<img|<iframe|\bsrc=|https?:\/\//i);
  // The hostile name shows as text, in the heading and in every disk path under it.
  const escaped = '&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;quoted&#39;';
  assert.match(page, `<span class="state healthy">healthy</span> ${path.dirname(hostile.root)}/${escaped}</h2>`);
  assert.ok(page.split(escaped).length - 1 >= 1 + hostile.disks.length, 'the name is escaped in the heading and each disk path');
  assert.not.match(page, HOSTILE);
  // The busy pool: 42% by bytes, ETA 58 s at its rate so far, paused daemon, errors on disk 2.
  assert.match(page, '<progress max="1" value="0.4200">42.0%</progress>');
  assert.match(page, '<span class="eta">ETA 58.0 s</span>');
  assert.match(page, /paused/);
  assert.ok(diskErrorRow(page, busy, 2), 'disk 2 shows 1 read and 7 checksum errors');
  // The busy pool's nightly schedule, two days after its last pass; the others have none.
  assert.match(page, /<td>\*-\*-\* 03:00:00 <span class="muted">\(at most 25h00m apart\)<\/span> <span class="state failed">overdue<\/span><\/td><\/tr>/);
  assert.is(page.split('overdue').length - 1, 1, 'only the busy pool is overdue');
  assert.is(page.split('not scheduled').length - 1, 5, 'the light row of the busy pool, both rows of the others');
  assert.match(page, '<span class="state unrecoverable">unrecoverable</span>');
  assert.match(page, '<title>DynamicFS: unrecoverable</title>');
});

test('a pool that cannot be read: its section says why, the path in the message escaped too', () => {
  const gone = path.join(scratchDir('dfs-status-page-'), HOSTILE);
  const page = renderStatusPage(readSnapshots([gone]));
  assert.match(page, '<section class="pool unknown"><h2><span class="state unknown">unknown</span> ');
  assert.match(page, /<p>Cannot be read: [^<]*&lt;script&gt;alert\(&quot;x&quot;\) &amp; &#39;quoted&#39;\/pool\.json/);
  assert.not.match(page, HOSTILE);
});

test('GET / from dfs-metrics: text/html, a CSP that forbids external loads, HEAD, 405, 404 elsewhere', async () => {
  const { busy, hostile } = fleet();
  const s = await serve(['--pool', busy.root, '--pool', hostile.root]);
  try {
    const res = await fetch(`${s.url}/`);
    assert.is(res.status, 200);
    assert.is(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.is(res.headers.get('content-security-policy'), STATUS_PAGE_CSP);
    assert.is(STATUS_PAGE_CSP, "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
    assert.is(res.headers.get('cache-control'), 'no-store');
    const body = await res.text();
    assert.match(body, busy.root);
    assert.not.match(body, HOSTILE);
    const head = await fetch(`${s.url}/?x=1`, { method: 'HEAD' });
    assert.is(head.status, 200);
    assert.is(await head.text(), '');
    const post = await fetch(`${s.url}/`, { method: 'POST', body: 'x' });
    assert.is(post.status, 405);
    assert.is(post.headers.get('allow'), 'GET, HEAD');
    await post.text();
    for (const route of ['/index.html', '/status', '//']) {
      const r = await fetch(`${s.url}${route}`);
      assert.is(r.status, 404, route);
      assert.match(await r.text(), 'try /, /metrics or /health');
    }
  } finally {
    await s.stop();
  }
});

/** Text content of an element by id-less class, from Chromium's DOM dump (tags stripped, entities kept). */
const textOf = (dom: string) => dom.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');

test('headless Chromium shows the pools, their state counts, the pass, the disks and the links', async () => {
  if (!requireTool('chromium')) return;
  const { busy, broken, hostile } = fleet();
  const s = await serve(['--pool', busy.root, '--pool', broken.root, '--pool', hostile.root]);
  const out = scratchDir('dfs-status-chromium-');
  const chromium = (args: string[]) =>
    spawnSync('chromium', ['--headless', '--no-sandbox', '--disable-gpu', `--user-data-dir=${path.join(out, 'profile')}`, ...args, `${s.url}/`], {
      encoding: 'utf8', timeout: 60_000, maxBuffer: 16 * 1024 * 1024,
    });
  try {
    const dump = chromium(['--dump-dom']);
    assert.is(dump.status, 0, dump.stderr);
    const dom = dump.stdout;
    // Three pools, each a section; the hostile name became text, not an element.
    assert.is(dom.match(/<section class="pool /g)?.length, 3, dom);
    assert.not.match(dom, /<script/i);
    const text = textOf(dom);
    assert.match(text, `${busy.root}`);
    assert.match(text, `${broken.root}`);
    assert.match(text, '&lt;script&gt;alert("x") &amp; \'quoted\'');
    // Extents by state: busy 98/2/0, broken 8/1/1.
    assert.match(dom, /<tr><td class="n">98<\/td><td class="n bad">2<\/td><td class="n">0<\/td><\/tr>/);
    assert.match(dom, /<tr><td class="n">8<\/td><td class="n bad">1<\/td><td class="n bad">1<\/td><\/tr>/);
    assert.match(text, '42.0% (42/100 extents');
    assert.match(text, 'ETA 58.0 s');
    assert.match(dom, /<progress max="1" value="0.4200">/);
    assert.match(text, /Daemon: running \(PID \d+, intensity medium\) paused/);
    assert.match(text, /\(48h0\dm ago\)/);
    assert.match(text, '(at most 25h00m apart) overdue');
    assert.match(text, '2 degraded extents');
    assert.match(text, '1 unrecoverable extents');
    assert.ok(diskErrorRow(dom, busy, 2), 'disk 2 of the busy pool with its read and checksum errors');
    assert.match(dom, '<a href="/metrics">/metrics</a>');
    assert.match(dom, '<a href="/health">/health</a>');

    const png = process.env.DFS_DOCS_SCREENSHOTS ? path.join(repoRoot, 'docs', 'status-page.png') : path.join(out, 'status-page.png');
    fs.mkdirSync(path.dirname(png), { recursive: true });
    const shot = chromium([`--screenshot=${png}`, '--window-size=1200,900', '--hide-scrollbars']);
    assert.is(shot.status, 0, shot.stderr);
    const head = fs.readFileSync(png).subarray(0, 8);
    assert.equal([...head], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
    assert.ok(fs.statSync(png).size > 20_000, `a rendered page, not a blank one (${fs.statSync(png).size} bytes)`);
    if (process.env.DFS_DOCS_SCREENSHOTS) process.stderr.write(`metrics-status-page: wrote ${png}\n`);
  } finally {
    await s.stop();
  }
});

test.run();
