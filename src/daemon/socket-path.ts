import os from 'node:os';
import path from 'node:path';
import { blake3Hex } from '../core/hash';
import { stateDir } from '../core/layout';

export const SOCKET_NAME = 'scrubd.sock';
/** sun_path holds 108 bytes including the NUL. */
const SUN_PATH_MAX = 107;

/** The runtime directory for sockets whose pool path is too long for sun_path. */
export function runtimeDir(): string {
  if (process.env.RUNTIME_DIRECTORY) return process.env.RUNTIME_DIRECTORY.split(':')[0];
  if (process.getuid?.() === 0) return '/run/dynamicfs';
  if (process.env.XDG_RUNTIME_DIR) return path.join(process.env.XDG_RUNTIME_DIR, 'dynamicfs');
  return path.join(os.tmpdir(), `dynamicfs-${process.getuid?.() ?? 'user'}`);
}

/** The control socket: in the pool's state directory, or under the runtime directory when that path is too long. */
export function controlSocketPath(root: string): string {
  const inPool = path.join(stateDir(path.resolve(root)), SOCKET_NAME);
  if (Buffer.byteLength(inPool) <= SUN_PATH_MAX) return inPool;
  return path.join(runtimeDir(), `scrubd-${blake3Hex(path.resolve(root)).slice(0, 24)}.sock`);
}
