import fs from 'node:fs';
import path from 'node:path';
import { stateDir } from '../core/layout';

export const AUDIT_FILE = 'audit.log';

/** One JSON line per repair action, appended and fsynced: the operator's record of every change. */
export function appendAudit(root: string, entry: Record<string, unknown>): void {
  const file = path.join(stateDir(root), AUDIT_FILE);
  const fd = fs.openSync(file, 'a', 0o640);
  try {
    fs.writeSync(fd, JSON.stringify({ time: new Date().toISOString(), ...entry }) + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
