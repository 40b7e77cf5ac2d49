import fs from 'node:fs';
import { errnoCode, fsFailure, operationalError } from './errors';
import { stateDir } from './layout';

// POOL/.dynamicfs holds what the tools write as the pool's owner (or root):
// the lock, the scrub state, the audit log, the daemon's socket and settings.
// It must be a real directory of the pool's owner (or root) that nobody else
// can write, in a pool directory that only its owner (and its group, by the
// owner's choice) can write: then nobody else can swap a name in it between a
// check and a use, and each file in it is opened without following links.

/** Why the pool directory or its state directory cannot be trusted, or undefined. */
export function stateDirProblem(root: string): string | undefined {
  let top: fs.Stats;
  try {
    top = fs.statSync(root);
  } catch (err) {
    return `${root}: ${errnoCode(err) ?? String(err)}`;
  }
  if (top.mode & 0o002) return `${root} is writable by every user (mode ${(top.mode & 0o7777).toString(8)}): anyone could swap its state`;
  let st: fs.Stats;
  try {
    st = fs.lstatSync(stateDir(root));
  } catch (err) {
    return errnoCode(err) === 'ENOENT' ? undefined : `${stateDir(root)}: ${errnoCode(err) ?? String(err)}`;
  }
  if (!st.isDirectory()) return `${stateDir(root)} is not a real directory (${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'})`;
  if (st.uid !== top.uid && st.uid !== 0) return `${stateDir(root)} belongs to uid ${st.uid}, the pool directory to uid ${top.uid}`;
  if (st.mode & 0o022) return `${stateDir(root)} is writable by others than its owner (mode ${(st.mode & 0o7777).toString(8)})`;
  return undefined;
}

export function checkStateDir(root: string): void {
  const problem = stateDirProblem(root);
  if (problem) throw operationalError(`refusing pool ${root}: ${problem}`);
}

/** Makes POOL/.dynamicfs if missing (private to its owner for writing), then checks it. */
export function makeStateDir(root: string): string {
  const dir = stateDir(root);
  try {
    fs.mkdirSync(dir, { mode: 0o755 });
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw fsFailure('cannot create', dir, err);
  }
  checkStateDir(root);
  return dir;
}
