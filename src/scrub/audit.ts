import { appendFileSafe } from '../core/safe-fs';
import { fsFailure } from '../core/errors';
import path from 'node:path';
import { stateDir } from '../core/layout';

export const AUDIT_FILE = 'audit.log';

/** One JSON line per repair action, appended and fsynced: the operator's record of every change. */
export function appendAudit(root: string, entries: Record<string, unknown> | Record<string, unknown>[]): void {
  const list = Array.isArray(entries) ? entries : [entries];
  if (list.length === 0) return;
  const file = path.join(stateDir(root), AUDIT_FILE);
  const time = new Date().toISOString();
  try {
    appendFileSafe(file, list.map((e) => JSON.stringify({ time, ...e }) + '\n').join(''), true);
  } catch (err) {
    // ELOOP: a symlink stands at the log's name; it is never followed.
    throw fsFailure('cannot append to the audit log', file, err);
  }
}
