import path from 'node:path';
import { HealthCounts, OpenProblem } from './state';
import { Health } from './verify';

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

const worse = (a: Health, b: Health): Health => (a === 'unrecoverable' || b === 'unrecoverable' ? 'unrecoverable' : a === 'degraded' || b === 'degraded' ? 'degraded' : 'healthy');

/** The worst health each extent's open problems gave it. */
function openHealth(open: OpenProblem[], keep: (p: OpenProblem) => boolean): Map<string, Health> {
  const out = new Map<string, Health>();
  for (const p of open) if (p.extent && keep(p)) out.set(p.extent, worse(out.get(p.extent) ?? 'healthy', p.health ?? 'healthy'));
  return out;
}

const problemKey = (p: OpenProblem) => `${p.extent ?? ''}\0${p.shard ?? ''}\0${p.kind}\0${p.path}`;

/**
 * After a light pass over the whole pool: its own findings, plus the open
 * problems only a deep pass could have seen (kept, and counted in the health
 * of their extents, which a light pass calls healthy).
 */
export function foldLightPass(prevOpen: OpenProblem[], found: OpenProblem[], health: HealthCounts, seen: Map<string, Health>): { open: OpenProblem[]; health: HealthCounts } {
  const deepOnly = prevOpen.filter((p) => DEEP_ONLY_KINDS.has(p.kind));
  const keys = new Set(found.map(problemKey));
  const open = [...found, ...deepOnly.filter((p) => !keys.has(problemKey(p)))];
  const out = { ...health };
  for (const [extent, was] of openHealth(deepOnly, () => true)) {
    const now = seen.get(extent);
    if (now === undefined) continue;
    const merged = worse(now, was);
    if (merged !== now && out[now] > 0) {
      out[now]--;
      out[merged]++;
    }
  }
  return { open, health: out };
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
  const rechecked = (p: OpenProblem) =>
    (p.extent ? seen.has(p.extent) : p.kind.startsWith('manifest-') && scope.manifests.has(path.basename(p.path))) && !(light && DEEP_ONLY_KINDS.has(p.kind));
  const kept = prevOpen.filter((p) => !rechecked(p));
  const keys = new Set(found.map(problemKey));
  const open = [...found, ...kept.filter((p) => !keys.has(problemKey(p)))];
  const before = openHealth(prevOpen, () => true);
  const after = openHealth(kept, () => true);
  const out = { ...health };
  for (const [extent, now] of seen) {
    const was = before.get(extent) ?? 'healthy';
    const merged = worse(now, after.get(extent) ?? 'healthy');
    if (was === merged || out[was] <= 0) continue;
    out[was]--;
    out[merged]++;
  }
  return { open, health: out };
}
