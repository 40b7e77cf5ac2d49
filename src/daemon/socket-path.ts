import os from 'node:os';
import path from 'node:path';
import { blake3Hex } from '../core/hash';
import fs from 'node:fs';
import { stateDir, STATE_DIR } from '../core/layout';
import { errnoCode, fsFailure, operationalError } from '../core/errors';

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

/**
 * Makes sure the socket's directory can be trusted: the pool's state directory
 * (checked when the pool was opened), or a runtime directory that is ours and
 * that only we can write. One that another user made first (say /tmp/dynamicfs-UID) is
 * refused: its owner could answer the operator's verbs.
 */
export function socketDirReady(dir: string): void {
  if (path.basename(dir) === STATE_DIR) return;
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw fsFailure('cannot create the runtime directory', dir, err);
  }
  runtimeDirProblem(dir, true);
}

/** Throws when the runtime directory is not a real directory of ours that only we can write. */
export function runtimeDirProblem(dir: string, must: boolean): string | undefined {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch (err) {
    if (!must && errnoCode(err) === 'ENOENT') return undefined;
    throw fsFailure('runtime directory', dir, err);
  }
  const uid = process.getuid?.() ?? 0;
  const why = !st.isDirectory() ? 'not a real directory' : st.uid !== uid ? `owned by uid ${st.uid}, not ${uid}` : st.mode & 0o022 ? `writable by others (mode ${(st.mode & 0o777).toString(8)})` : undefined;
  if (why) throw operationalError(`refusing the runtime directory ${dir}: ${why} (remove it, or set RUNTIME_DIRECTORY)`);
  return undefined;
}

/** The control socket: in the pool's state directory, or under the runtime directory when that path is too long. */
export function controlSocketPath(root: string): string {
  const inPool = path.join(stateDir(path.resolve(root)), SOCKET_NAME);
  if (Buffer.byteLength(inPool) <= SUN_PATH_MAX) return inPool;
  const dir = runtimeDir();
  // A client must not talk to a socket another user placed there either.
  runtimeDirProblem(dir, false);
  return path.join(dir, `scrubd-${blake3Hex(path.resolve(root)).slice(0, 24)}.sock`);
}
