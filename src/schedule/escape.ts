import path from 'node:path';
import { usageError } from '../core/errors';

// Unit instances are the escaped pool path, exactly as `systemd-escape --path`
// makes it, so that `%f` in the units gives the pool path back and an operator
// can type `systemctl status dfs-scrub@$(systemd-escape --path /tmp/pool)`.

/** `systemd-escape --path`: /tmp/my pool -> tmp-my\x20pool. */
export function escapePath(poolPath: string): string {
  if (!path.isAbsolute(poolPath)) throw usageError(`--pool ${poolPath}: must be an absolute path here`);
  const parts = poolPath.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw usageError(`--pool ${poolPath}: not a normalized path (contains ..)`);
  if (parts.length === 0) return '-';
  const bytes = Buffer.from(parts.join('/'), 'utf8');
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const ch = String.fromCharCode(bytes[i]);
    if (ch === '/') out += '-';
    else if ((i === 0 && ch === '.') || !/[A-Za-z0-9:_.]/.test(ch)) out += `\\x${bytes[i].toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out;
}
