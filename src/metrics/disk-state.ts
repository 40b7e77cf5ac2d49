import fs from 'node:fs';
import { Disk, DiskState } from '../core/pool';
import { errnoCode } from '../core/errors';

// The core judges a disk 'read-only' when the *caller* cannot write to it. The
// metrics exporter runs unprivileged (DynamicUser) under ProtectSystem=strict,
// where every disk is unwritable to it: EACCES because it does not own the
// disk, EROFS because the sandbox mounts the whole tree read-only. Neither is a
// property of the disk, so for metrics a 'read-only' verdict is kept only when
// the filesystem itself is read-only (its superblock says `ro`, as after
// errors=remount-ro), which the sandbox does not change.
// TODO(core): move this into inspectDisk as an option (openPool(path, {access: 'read'})).

export const DISK_STATES: readonly DiskState[] = ['online', 'missing', 'foreign', 'unreadable', 'read-only'];

interface MountEntry {
  mountPoint: string;
  superReadOnly: boolean;
}

/** /proc/self/mountinfo escapes space, tab, newline and backslash as \ooo. */
const unescapeMount = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

function readMounts(): MountEntry[] | undefined {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined;
  }
  const mounts: MountEntry[] = [];
  for (const line of text.split('\n')) {
    // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash < 6 || fields.length < dash + 4) continue;
    mounts.push({ mountPoint: unescapeMount(fields[4]), superReadOnly: fields[dash + 3].split(',').includes('ro') });
  }
  return mounts;
}

/** Whether the filesystem holding dir is read-only for everyone; undefined when unknown. */
function filesystemReadOnly(dir: string, mounts: MountEntry[]): boolean | undefined {
  let real: string;
  try {
    real = fs.realpathSync(dir);
  } catch {
    return undefined;
  }
  let best: MountEntry | undefined;
  for (const m of mounts) {
    const inside = m.mountPoint === '/' || real === m.mountPoint || real.startsWith(m.mountPoint + '/');
    // The last of equally long matches is the mount on top.
    if (inside && (!best || m.mountPoint.length >= best.mountPoint.length)) best = m;
  }
  return best?.superReadOnly;
}

/** The disks' states as an operator means them, independent of the exporter's own rights. */
export function diskStatesForMetrics(disks: Disk[]): DiskState[] {
  let mounts: MountEntry[] | undefined | null = null; // read at most once, only if needed
  return disks.map((d) => {
    if (d.state !== 'read-only') return d.state;
    try {
      fs.accessSync(d.path, fs.constants.W_OK);
      return 'online';
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'EACCES' || code === 'EPERM') return 'online';
      if (code !== 'EROFS') return d.state;
    }
    if (mounts === null) mounts = readMounts();
    const ro = mounts && filesystemReadOnly(d.path, mounts);
    return ro === false ? 'online' : 'read-only';
  });
}
