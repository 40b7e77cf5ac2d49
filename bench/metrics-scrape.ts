// How long a scrape of /metrics (and /health) takes on a pool whose state
// describes a million extents. The exporter reads only pool.json, the disk
// labels, the daemon's info and the scrub state (whose problem list is capped
// at MAX_OPEN_PROBLEMS), so this should not depend on the pool's size.
// Target: p99 <= 50 ms. Not a unit test: run `node dist/bench/metrics-scrape.js`.

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createPool } from '../src/core/pool';
import { emptyState, MAX_OPEN_PROBLEMS, saveState, stateFile } from '../src/scrub/state';
import { startMetricsServer } from '../src/metrics/server';
import { readSnapshots } from '../src/metrics/snapshot';
import { renderMetrics } from '../src/metrics/registry';

const SCRAPES = 100;
const EXTENTS = 1_000_000;

function bigState(poolId: string) {
  const s = emptyState(poolId);
  const now = Date.now();
  s.counters = { scrubsCompleted: 412, issuesFound: 3_141_592, repairsAttempted: 2_718_281, repairsSuccessful: 2_718_000, extentsScanned: 412 * EXTENTS, bytesRead: 412 * EXTENTS * 4 * 1024 * 1024 };
  s.health = { healthy: EXTENTS - 1_100, degraded: 1_000, unrecoverable: 100 };
  s.lastPass = {
    id: 'p411', mode: 'repair', runner: 'dfs-scrubd', startedAt: new Date(now - 90_000_000).toISOString(), finishedAt: new Date(now - 4_000_000).toISOString(),
    durationSeconds: 86_000, outcome: 'problems', exitCode: 4, extentsScanned: EXTENTS, bytesRead: EXTENTS * 4 * 1024 * 1024,
    issuesFound: 1_200, repairsAttempted: 1_100, repairsSuccessful: 1_000, health: { ...s.health },
  };
  s.current = {
    id: 'p412', mode: 'repair', runner: 'dfs-scrubd', startedAt: new Date(now - 3_000_000).toISOString(), cursor: '7'.repeat(64),
    extentsTotal: EXTENTS, extentsDone: 480_000, bytesTotal: EXTENTS * 4 * 1024 * 1024, bytesDone: 480_000 * 4 * 1024 * 1024,
    issuesFound: 40, repairsAttempted: 40, repairsSuccessful: 40, health: { healthy: 479_960, degraded: 40, unrecoverable: 0 }, activeSeconds: 2_900,
  };
  s.oldestVerifiedAt = new Date(now - 95_000_000).toISOString();
  s.openProblems = Array.from({ length: MAX_OPEN_PROBLEMS }, (_, i) => {
    const id = i.toString(16).padStart(64, '0');
    return { extent: id, shard: i % 6, disk: `disk-${i % 6}`, path: `/srv/disk${i % 6}/extents/${id.slice(0, 2)}/${id}.${i % 6}`, kind: 'checksum mismatch', health: 'degraded' as const, seenAt: new Date(now).toISOString() };
  });
  return s;
}

function get(agent: http.Agent, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    http.get(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(Number(process.hrtime.bigint() - t0) / 1e6));
    }).on('error', reject);
  });
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const fmt = (ms: number) => `${ms.toFixed(2)} ms`;

function report(name: string, times: number[]) {
  const s = [...times].sort((a, b) => a - b);
  console.log(`${name.padEnd(28)} p50 ${fmt(pct(s, 50)).padStart(9)}  p99 ${fmt(pct(s, 99)).padStart(9)}  max ${fmt(s[s.length - 1]).padStart(9)}`);
  return pct(s, 99);
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-bench-metrics-'));
  try {
    const pool = createPool({ root: path.join(dir, 'pool'), diskCount: 6, redundancy: 'rs:4+2' });
    saveState(pool.root, bigState(pool.config.id));
    console.log(`pool: 6 disks, state describing ${EXTENTS.toLocaleString('en')} extents, ${MAX_OPEN_PROBLEMS} open problems, state file ${(fs.statSync(stateFile(pool.root)).size / 1024).toFixed(0)} KiB`);

    const inProcess: number[] = [];
    for (let i = 0; i < SCRAPES; i++) {
      const t0 = process.hrtime.bigint();
      await renderMetrics(readSnapshots([pool.root]));
      inProcess.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    report('read + render (in process)', inProcess);

    const server = await startMetricsServer({ pools: [pool.root], host: '127.0.0.1', port: 0 });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      await get(agent, `${server.url}/metrics`); // connection set up, code warmed
      const metrics: number[] = [];
      for (let i = 0; i < SCRAPES; i++) metrics.push(await get(agent, `${server.url}/metrics`));
      const p99 = report('GET /metrics over HTTP', metrics);
      const health: number[] = [];
      for (let i = 0; i < SCRAPES; i++) health.push(await get(agent, `${server.url}/health`));
      report('GET /health over HTTP', health);
      console.log(p99 <= 50 ? `OK: /metrics p99 ${fmt(p99)} <= 50 ms` : `SLOW: /metrics p99 ${fmt(p99)} > 50 ms`);
      process.exitCode = p99 <= 50 ? 0 : 1;
    } finally {
      agent.destroy();
      await server.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main();
