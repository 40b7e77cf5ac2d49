import fs from 'node:fs';
import { Pool, writableDisks } from '../core/pool';
import { StrayFile, topLevelStrays } from './inventory';
import { listPrefixes } from './prefix-listing';
import { buildExtentIndex, removeExtentIndex } from './extent-index';
import { ObjectEntry } from '../core/manifest';
import { quarantine } from './quarantine';
import { appendAudit } from './audit';
import { operationalError } from '../core/errors';

export interface GcResult {
  path: string;
  disk: number;
  kind: 'orphan-shard' | 'stale-temp-file';
  extent?: string;
  quarantine?: string;
  result: 'quarantined' | 'kept' | 'failed';
  detail?: string;
}

/**
 * Moves orphan shards (no manifest names their extent) and stale temp files
 * into quarantine. Only files older than minAgeSeconds: a put in flight writes
 * its shards before its manifest. Never deletes: the quarantine keeps them.
 */
export function collectGarbage(pool: Pool, minAgeSeconds: number, dryRun: boolean): GcResult[] {
  const cutoff = Date.now() - minAgeSeconds * 1000;
  // An object whose every manifest copy is damaged still owns its extents: they only look orphaned.
  let lost = undefined as ObjectEntry | undefined;
  const index = buildExtentIndex(pool, (o) => {
    if (!o.manifest) lost ??= o;
  });
  const candidates: Omit<GcResult, 'result'>[] = [];
  const strays: StrayFile[] = [];
  try {
    strays.push(...topLevelStrays(pool));
    if (lost) {
      throw operationalError(`refusing gc: every copy of manifest ${lost.fileName} is damaged, so its extents would look orphaned (see dfs-scrub)`);
    }
    for (const plans of listPrefixes(pool, index, strays)) {
      for (const e of plans) {
        if (e.scheme) continue;
        for (const f of e.files) candidates.push({ path: f.path, disk: f.disk, kind: 'orphan-shard', extent: e.id });
      }
    }
  } finally {
    removeExtentIndex(index);
  }
  for (const s of strays) if (s.kind === 'stale-temp-file') candidates.push({ path: s.path, disk: s.disk, kind: 'stale-temp-file' });
  const writable = new Set(writableDisks(pool).map((d) => d.index));
  const out: GcResult[] = [];
  for (const c of candidates) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(c.path);
    } catch {
      continue;
    }
    if (!st.isFile() || st.mtimeMs > cutoff) {
      out.push({ ...c, result: 'kept', detail: st.isFile() ? `younger than ${minAgeSeconds} s (a put may be in flight)` : 'not a regular file' });
      continue;
    }
    if (!writable.has(c.disk)) {
      out.push({ ...c, result: 'kept', detail: 'disk is not writable' });
      continue;
    }
    if (dryRun) {
      out.push({ ...c, result: 'kept', detail: 'dry run' });
      continue;
    }
    try {
      const kept = quarantine(pool.disks[c.disk], c.path, { original: c.path, disk: c.disk, extent: c.extent, problem: c.kind, detail: 'dfs-pool gc' }, 'move');
      appendAudit(pool.root, { action: 'gc', kind: c.kind, extent: c.extent, disk: c.disk, path: c.path, quarantine: kept, result: 'quarantined' });
      out.push({ ...c, quarantine: kept, result: 'quarantined' });
    } catch (err) {
      out.push({ ...c, result: 'failed', detail: err instanceof Error ? err.message : String(err) });
    }
  }
  return out;
}
