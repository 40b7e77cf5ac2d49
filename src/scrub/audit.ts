import fs from 'node:fs';
import path from 'node:path';
import { stateDir } from '../core/layout';

export const AUDIT_FILE = 'audit.log';

/** One JSON line per repair action, appended and fsynced: the operator's record of every change. */
export function appendAudit(root: string, entries: Record<string, unknown> | Record<string, unknown>[]): void {
  const list = Array.isArray(entries) ? entries : [entries];
  if (list.length === 0) return;
  const file = path.join(stateDir(root), AUDIT_FILE);
  const time = new Date().toISOString();
  const fd = fs.openSync(file, 'a', 0o640);
  try {
    fs.writeSync(fd, list.map((e) => JSON.stringify({ time, ...e }) + '\n').join(''));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
