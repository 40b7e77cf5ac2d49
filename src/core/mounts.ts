import fs from 'node:fs';

// Whether a filesystem is read-only for everyone (its superblock says `ro`, as
// after errors=remount-ro), as opposed to read-only for this process only
// (a sandbox's ProtectSystem=strict view, or missing permission).

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
function filesystemReadOnlyIn(dir: string, mounts: MountEntry[]): boolean | undefined {
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

/** True when dir's filesystem is mounted read-only at the superblock; undefined when unknown. */
export function filesystemReadOnly(dir: string): boolean | undefined {
  const mounts = readMounts();
  return mounts && filesystemReadOnlyIn(dir, mounts);
}
