import fs from 'node:fs';
import path from 'node:path';
import { errnoCode, operationalError } from '../core/errors';
import { ensureClaimsDir } from '../core/disk-claims';

// Run as root over a pool someone else owns, a tool becomes that owner before
// it touches the pool: whatever the owner planted there (links, FIFOs, another
// pool's disks) can then hurt nobody but the owner. A root-owned pool, or a
// pool that does not exist yet (create), is handled as root.

interface Account {
  name?: string;
  gid: number;
}

function accountOf(uid: number): Account | undefined {
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length >= 4 && Number(f[2]) === uid) return { name: f[0], gid: Number(f[3]) };
    }
  } catch {
    // no passwd file: the directory's group stands in
  }
  return undefined;
}

/** The owner's supplementary groups, as login would give them. */
function groupsOf(name: string | undefined, gid: number): number[] {
  const out = new Set<number>([gid]);
  if (!name) return [...out];
  try {
    for (const line of fs.readFileSync('/etc/group', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length >= 4 && f[3].split(',').includes(name)) out.add(Number(f[2]));
    }
  } catch {
    // primary group only
  }
  return [...out].filter((g) => Number.isInteger(g) && g >= 0);
}

/** The uid this process now runs as, for messages and tests. */
export function becomePoolOwner(poolArg: string): number | undefined {
  if (process.getuid?.() !== 0) return undefined;
  // Made while still root: the owner leaves its notes there when its pool names another's disks.
  ensureClaimsDir();
  const root = path.resolve(poolArg);
  let st: fs.Stats;
  try {
    st = fs.statSync(root);
  } catch {
    return undefined; // no pool there yet: create makes one as root, anything else says "not a pool"
  }
  if (st.uid === 0) return undefined;
  const account = accountOf(st.uid);
  const gid = account?.gid ?? st.gid;
  try {
    process.setgroups!(groupsOf(account?.name, gid));
    process.setgid!(gid);
    process.setuid!(st.uid);
  } catch (err) {
    throw operationalError(`pool ${root} belongs to uid ${st.uid}, and this process cannot switch to it (${errnoCode(err) ?? String(err)}): run the command as that user`);
  }
  return st.uid;
}
