import { appendFileSafe, appendFileSafeSynced } from '../core/safe-fs';
import { fsFailure } from '../core/errors';
import path from 'node:path';
import { stateDir } from '../core/layout';

export const AUDIT_FILE = 'audit.log';

/** The log's file and the lines to append to it, stamped with one time. */
function auditLines(root: string, entries: Record<string, unknown>[]): { file: string; text: string } {
  const time = new Date().toISOString();
  return { file: path.join(stateDir(root), AUDIT_FILE), text: entries.map((e) => JSON.stringify({ time, ...e }) + '\n').join('') };
}

// ELOOP: a symlink stands at the log's name; it is never followed.
const appendFailed = (file: string, err: unknown) => fsFailure('cannot append to the audit log', file, err);

/** One JSON line per repair action, appended and fsynced: the operator's record of every change. */
export function appendAudit(root: string, entries: Record<string, unknown> | Record<string, unknown>[]): void {
  const list = Array.isArray(entries) ? entries : [entries];
  if (list.length === 0) return;
  const { file, text } = auditLines(root, list);
  try {
    appendFileSafe(file, text, true);
  } catch (err) {
    throw appendFailed(file, err);
  }
}

/** appendAudit without the fsync: appendAuditSynced after it makes it durable (with whatever it appends). */
export function appendAuditUnsynced(root: string, entries: Record<string, unknown>[]): void {
  const { file, text } = auditLines(root, entries);
  try {
    appendFileSafe(file, text, false);
  } catch (err) {
    throw appendFailed(file, err);
  }
}

/** appendAudit with its fsync on the thread pool, also of lines appended unsynced before (an empty list only syncs). */
export async function appendAuditSynced(root: string, entries: Record<string, unknown>[]): Promise<void> {
  const { file, text } = auditLines(root, entries);
  try {
    await appendFileSafeSynced(file, text);
  } catch (err) {
    throw appendFailed(file, err);
  }
}
