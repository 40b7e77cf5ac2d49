import path from 'node:path';
import { randomBytes } from './random';
import { stateDir } from './layout';
import { writeFileAtomic } from './atomic-file';
import { readRegularFile } from './safe-fs';
import { makeStateDir } from './state-dir';

// A pool directory's own identity: a random token in POOL/.dynamicfs/dir-token.
// It moves with the directory (mv) and is not in a copy of pool.json, so a
// pool found at another place than its disks' labels name can prove it is the
// directory that wrote them (moved), not a copy beside it.

const TOKEN_RE = /^[0-9a-f]{32}$/;

const tokenFile = (root: string) => path.join(stateDir(root), 'dir-token');

/** The token, or undefined when there is none (or it is not one we wrote). */
export function readDirToken(root: string): string | undefined {
  try {
    const text = readRegularFile(tokenFile(root), 256).toString('utf8').trim();
    return TOKEN_RE.test(text) ? text : undefined;
  } catch {
    return undefined; // none, or not a small regular file: as good as none
  }
}

/**
 * The token, made now if the pool has none (by its owner: the caller checks);
 * undefined where it cannot be written (a read-only pool directory).
 */
export function dirToken(root: string): string | undefined {
  const have = readDirToken(root);
  if (have) return have;
  const token = randomBytes(16).toString('hex');
  try {
    makeStateDir(root);
    writeFileAtomic(tokenFile(root), Buffer.from(`${token}\n`));
  } catch {
    return undefined;
  }
  return token;
}
