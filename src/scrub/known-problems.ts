import path from 'node:path';
import { minShards, Scheme, shardCount } from '../core/scheme';
import { HealthCounts, OpenProblem } from './state';
import { ExtentVerdict, Health } from './verify';

// The problems the last passes left open, as a scope for a pass that re-checks
// only them (--only-known), and how a partial pass (a light one, or one over
// the known problems) folds what it saw into the pool's open problems and
// health counts without forgetting what it could not see.

/** Kinds only a deep pass can see: rot inside a payload, a bad sector past the header. */
export const DEEP_ONLY_KINDS: ReadonlySet<string> = new Set(['checksum-mismatch', 'unreadable']);

export interface KnownScope {
  extents: Set<string>;
  /** Manifest file names (DISK/objects/<name>) whose copies had a problem. */
  manifests: Set<string>;
}

export function knownScope(open: OpenProblem[]): KnownScope {
  const scope: KnownScope = { extents: new Set(), manifests: new Set() };
  for (const p of open) {
    if (p.extent) scope.extents.add(p.extent);
    else if (p.kind.startsWith('manifest-')) scope.manifests.add(path.basename(p.path));
  }
  return scope;
}

/** The shards, by extent, that open problems only a deep pass can see name: a light pass believes them valid. */
export function deepOnlyShards(open: OpenProblem[]): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  for (const p of open) {
    if (!p.extent || p.shard === undefined || !DEEP_ONLY_KINDS.has(p.kind)) continue;
    const set = out.get(p.extent) ?? new Set<number>();
    set.add(p.shard);
    out.set(p.extent, set);
  }
  return out;
}

/**
 * An extent's health once the shards a deep pass found rotten are counted as
 * broken too: a light pass (and its repairs, which never rewrite a shard it
 * believes valid) leaves them as they were.
 */
export function healthWithout(health: Health, v: ExtentVerdict, rot: Set<number>, scheme: Scheme): Health {
  const n = shardCount(scheme);
  const valid = health === 'healthy' ? n : v.valid.length;
  const believed = health === 'healthy' ? [...rot].filter((i) => i < n).length : v.valid.filter((i) => rot.has(i)).length;
  const left = valid - believed;
  return left >= n ? 'healthy' : left >= minShards(scheme) ? 'degraded' : 'unrecoverable';
}

const worse = (a: Health, b: Health): Health => (a === 'unrecoverable' || b === 'unrecoverable' ? 'unrecoverable' : a === 'degraded' || b === 'degraded' ? 'degraded' : 'healthy');

/** The worst health each extent's open problems gave it. */
function openHealth(open: OpenProblem[], keep: (p: OpenProblem) => boolean): Map<string, Health> {
  const out = new Map<string, Health>();
  for (const p of open) if (p.extent && keep(p)) out.set(p.extent, worse(out.get(p.extent) ?? 'healthy', p.health ?? 'healthy'));
  return out;
}

const problemKey = (p: OpenProblem) => `${p.extent ?? ''}\0${p.shard ?? ''}\0${p.kind}\0${p.path}`;

/**
 * After a light pass over the whole pool: the open problems only a deep pass
 * could have seen, kept, then its own findings.
 */
export function foldLightPass(prevOpen: OpenProblem[], found: OpenProblem[], health: HealthCounts, seen: Map<string, Health>): { open: OpenProblem[]; health: HealthCounts } {
  // An extent the pass did not see is gone (its object removed): its old problems go with it.
  const deepOnly = prevOpen.filter((p) => DEEP_ONLY_KINDS.has(p.kind) && (!p.extent || seen.has(p.extent)));
  const keys = new Set(deepOnly.map(problemKey));
  // What only a deep pass sees comes first: the list is capped, and a light pass cannot find it again.
  // (The health counts already hold those extents as the rot leaves them: see healthWithout.)
  return { open: [...deepOnly, ...found.filter((p) => !keys.has(problemKey(p)))], health: { ...health } };
}

/**
 * After a pass over the known problems only: the problems it re-checked are
 * replaced by what it found (a light one keeps what only a deep pass sees),
 * and each re-checked extent's health moves from its old count to its new one.
 */
export function foldKnownPass(
  prevOpen: OpenProblem[],
  found: OpenProblem[],
  health: HealthCounts,
  seen: Map<string, Health>,
  scope: KnownScope,
  light: boolean,
): { open: OpenProblem[]; health: HealthCounts } {
  // A known extent the pass did not find in any manifest is gone (its object removed): resolved.
  const gone = (id: string) => scope.extents.has(id) && !seen.has(id);
  const rechecked = (p: OpenProblem) =>
    p.extent
      ? gone(p.extent) || (seen.has(p.extent) && !(light && DEEP_ONLY_KINDS.has(p.kind)))
      : p.kind.startsWith('manifest-') && scope.manifests.has(path.basename(p.path));
  const kept = prevOpen.filter((p) => !rechecked(p));
  const keys = new Set(kept.map(problemKey));
  // The problems this pass did not re-check come first: the list is capped, and they are not found again here.
  const open = [...kept, ...found.filter((p) => !keys.has(problemKey(p)))];
  const before = openHealth(prevOpen, () => true);
  const out = { ...health };
  for (const [extent, was] of before) {
    if (!gone(extent)) continue;
    if (out[was] > 0) out[was]--;
  }
  for (const [extent, now] of seen) {
    const was = before.get(extent) ?? 'healthy';
    if (was === now || out[was] <= 0) continue;
    out[was]--;
    out[now]++;
  }
  return { open, health: out };
}
