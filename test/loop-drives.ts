// Real drives for tests: one filesystem (ext4, xfs or btrfs) per disk, each on
// its own loop device over a sparse image file, mounted where the test says.
// Recipes from /work/shared/TESTING-NOTES.md ("Drives: one filesystem per disk").
//
// Everything attached or mounted here is recorded and taken down again by
// cleanupDrives(): call it after each test (test.after.each), it also runs on
// process exit and on SIGINT/SIGTERM/SIGHUP. Node only runs signal handlers
// when its event loop gets a turn, which a synchronous uvu test never gives
// (the runner's timeout then follows its SIGTERM with SIGKILL): so a guardian
// process, in its own session, holds a pipe from this one and, when that pipe
// closes (this process ended, however it died), unmounts and detaches whatever
// the state file still lists. Last, loop devices left by a run whose guardian
// died too are reaped on the first makeDrive() (only those whose image
// directory carries our owner marker with a dead pid).
//
// Needs root. canUseLoopDevices() says whether this machine can; without root
// it prints a loud SKIP line, and under CI=true it fails the test instead.

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as assert from 'uvu/assert';
import { which } from './helpers';

export type FsType = 'ext4' | 'xfs' | 'btrfs';

export interface Drive {
  /** A name for messages (the name given to makeDrive). */
  name: string;
  /** The sparse image file behind the loop device. */
  image: string;
  /** /dev/loopN */
  loop: string;
  /** Where it is mounted now (or was last mounted; see `mounted`). */
  mountPoint: string;
  /** 'blank' for attachBlank(): no filesystem (yet). */
  fs: FsType | 'blank';
  sizeMiB: number;
  /** Whether this harness has it mounted now. */
  mounted: boolean;
  /** Files made by fillDrive(), removed by unfillDrive(). */
  fillFiles: string[];
}

/** Smallest image each mkfs accepts (xfs refuses below 300 MiB; btrfs below ~110 MiB). */
export const MIN_SIZE_MIB: Record<FsType, number> = { ext4: 32, xfs: 300, btrfs: 110 };
/** Default image sizes: small, sparse, quick to make. */
export const DEFAULT_SIZE_MIB: Record<FsType, number> = { ext4: 64, xfs: 300, btrfs: 128 };

const OWNER_MARKER = '.loop-drives-owner';
const drives: Drive[] = [];

// ---------------------------------------------------------------------------
// Running tools

interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

function runRaw(cmd: string, args: readonly string[], input?: string): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, timeout: 60_000, killSignal: 'SIGKILL' });
  if (r.error) return { status: null, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error.message}` };
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Runs a tool; throws with its command line and stderr when it fails. */
function run(cmd: string, args: readonly string[]): string {
  const r = runRaw(cmd, args);
  if (r.status !== 0) {
    throw new Error(`loop-drives: \`${[cmd, ...args].join(' ')}\` failed (status ${r.status}): ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r.stdout;
}

const isCI = (): boolean => ['true', '1', 'yes'].includes((process.env.CI || '').toLowerCase());

const TOOLS: Record<FsType | 'common', string[]> = {
  common: ['losetup', 'mount', 'umount', 'filefrag', 'fallocate', 'truncate', 'sync'],
  ext4: ['mkfs.ext4'],
  xfs: ['mkfs.xfs'],
  btrfs: ['mkfs.btrfs', 'btrfs-map-logical'],
};

let probed: string | null | undefined; // undefined: not yet; null: fine; string: why not

function whyNot(fsTypes: readonly FsType[]): string | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'not root';
  const missing = [...TOOLS.common, ...fsTypes.flatMap((t) => TOOLS[t])].filter((t) => !which(t));
  if (missing.length) return `missing tools: ${missing.join(', ')}`;
  if (probed === undefined) {
    // Root in a container may still be denied loop devices: ask for a free one.
    if (!fs.existsSync('/dev/loop-control')) probed = 'no /dev/loop-control';
    else {
      const r = runRaw('losetup', ['-f']);
      probed = r.status === 0 ? null : `losetup -f failed: ${r.stderr.trim()}`;
    }
  }
  return probed;
}

/**
 * True when this process can make loop drives (root, losetup, mkfs.* for the
 * given filesystems, filefrag, fallocate). Otherwise prints
 * `*** SKIP: <what>: needs root and loop devices (...)` on stderr and returns
 * false; under CI=true it throws an assertion error instead (no silent skips).
 *
 *   if (!canUseLoopDevices('rot beneath ext4')) return;
 */
export function canUseLoopDevices(what: string, fsTypes: readonly FsType[] = ['ext4', 'xfs', 'btrfs']): boolean {
  const why = whyNot(fsTypes);
  if (why === null) return true;
  if (isCI()) assert.unreachable(`${what}: needs root and loop devices (${why}), and CI=true requires them`);
  process.stderr.write(`\n*** SKIP: ${what}: needs root and loop devices (${why})\n`);
  return false;
}

// ---------------------------------------------------------------------------
// Mounts

interface MountInfo {
  mountPoint: string;
  source: string;
}

const unescapeMount = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

function mounts(): MountInfo[] {
  const out: MountInfo[] = [];
  let text = '';
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-');
    if (dash < 6 || f.length < dash + 3) continue;
    out.push({ mountPoint: unescapeMount(f[4]), source: unescapeMount(f[dash + 2]) });
  }
  return out;
}

/** Mount points where this loop device is mounted now, deepest first. */
function mountPointsOf(loop: string): string[] {
  return mounts()
    .filter((m) => m.source === loop)
    .map((m) => m.mountPoint)
    .sort((a, b) => b.length - a.length);
}

/** umount, falling back to a lazy unmount when busy. Never throws; returns what went wrong. */
function umountQuietly(mountPoint: string): string | null {
  const r = runRaw('umount', [mountPoint]);
  if (r.status === 0) return null;
  const l = runRaw('umount', ['-l', mountPoint]);
  return l.status === 0 ? null : `umount ${mountPoint}: ${r.stderr.trim()}; umount -l: ${l.stderr.trim()}`;
}

function detachQuietly(loop: string): string | null {
  for (const m of mountPointsOf(loop)) {
    const e = umountQuietly(m);
    if (e) return e;
  }
  const r = runRaw('losetup', ['-d', loop]);
  if (r.status === 0 || /No such device/.test(r.stderr)) return null;
  return `losetup -d ${loop}: ${r.stderr.trim()}`;
}

/** Detaches loop devices (and unmounts them) left by runs of this harness that died without cleaning up. */
function reapStale(): void {
  const r = runRaw('losetup', ['--list', '--json', '--output', 'NAME,BACK-FILE']);
  if (r.status !== 0 || !r.stdout.trim()) return;
  let list: { name: string; 'back-file': string | null }[] = [];
  try {
    list = JSON.parse(r.stdout).loopdevices ?? [];
  } catch {
    return;
  }
  for (const l of list) {
    const back = (l['back-file'] ?? '').replace(/ \(deleted\)$/, '');
    if (!back) continue;
    let owner: number;
    try {
      owner = Number(fs.readFileSync(path.join(path.dirname(back), OWNER_MARKER), 'utf8').trim());
    } catch {
      continue; // not ours
    }
    if (!(owner > 0) || owner === process.pid) continue;
    try {
      process.kill(owner, 0);
      continue; // its owner still runs
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') continue;
    }
    const e = detachQuietly(l.name);
    if (!e) fs.rmSync(back, { force: true });
    process.stderr.write(`loop-drives: reaped ${l.name} (${back}) left by dead pid ${owner}${e ? `: ${e}` : ''}\n`);
  }
}

// ---------------------------------------------------------------------------
// Drives

// ---------------------------------------------------------------------------
// The guardian: cleans up after this process even when it is SIGKILLed

const GUARDIAN_JS = String.raw`
const fs = require('node:fs');
const { spawnSync } = require('node:child_process');
const [stateFile, parentPid] = process.argv.slice(1);
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => {});
process.stdin.on('data', () => {});
process.stdin.on('close', () => {
  let left = [];
  try { left = JSON.parse(fs.readFileSync(stateFile, 'utf8')); } catch {}
  const sh = (cmd, args) => spawnSync(cmd, args, { encoding: 'utf8', timeout: 30000 });
  for (const d of left.reverse()) {
    const info = (() => { try { return fs.readFileSync('/proc/self/mountinfo', 'utf8'); } catch { return ''; } })();
    const points = [];
    for (const line of info.split('\n')) {
      const f = line.split(' ');
      const dash = f.indexOf('-');
      if (dash >= 6 && f[dash + 2] === d.loop) points.push(f[4].replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8))));
    }
    points.sort((a, b) => b.length - a.length);
    for (const m of points) if (sh('umount', [m]).status !== 0) sh('umount', ['-l', m]);
    const r = sh('losetup', ['-d', d.loop]);
    try { fs.rmSync(d.image, { force: true }); } catch {}
    process.stderr.write('loop-drives guardian: pid ' + parentPid + ' ended with ' + d.loop + ' (' + d.image + ') attached: ' + (r.status === 0 ? 'detached' : 'losetup -d: ' + r.stderr.trim()) + '\n');
  }
  try { fs.rmSync(stateFile, { force: true }); } catch {}
  process.exit(0);
});
`;

let stateFile: string | undefined;

/** Starts the guardian once; then keeps its state file in step with `drives`. */
function saveState(): void {
  if (!stateFile) {
    stateFile = path.join(os.tmpdir(), `dfs-loop-drives-${process.pid}.json`);
    fs.writeFileSync(stateFile, '[]');
    const g = spawn(process.execPath, ['-e', GUARDIAN_JS, stateFile, String(process.pid)], {
      detached: true, // its own session: the runner's kill of our process group spares it
      stdio: ['pipe', 'ignore', 'inherit'],
    });
    g.on('error', (err) => process.stderr.write(`loop-drives: guardian failed to start: ${err.message}\n`));
    g.unref();
    (g.stdin as unknown as { unref?: () => void }).unref?.();
  }
  const tmp = `${stateFile}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(drives.map((d) => ({ loop: d.loop, image: d.image }))));
  fs.renameSync(tmp, stateFile);
}

let reaped = false;

/** A sparse image dir/name.img attached to a free loop device (direct I/O), recorded for cleanup. */
function attach(dir: string, name: string, fsType: FsType | 'blank', sizeMiB: number, mountPoint: string): Drive {
  if (!reaped) {
    reaped = true;
    reapStale();
  }
  fs.mkdirSync(dir, { recursive: true });
  const marker = path.join(dir, OWNER_MARKER);
  if (!fs.existsSync(marker)) fs.writeFileSync(marker, `${process.pid}\n`);
  const image = path.join(dir, `${name}.img`);
  fs.closeSync(fs.openSync(image, 'wx'));
  fs.truncateSync(image, sizeMiB * 1024 * 1024);
  const loop = run('losetup', ['-f', '--show', '--direct-io=on', image]).trim();
  const drive: Drive = { name, image, loop, mountPoint, fs: fsType, sizeMiB, mounted: false, fillFiles: [] };
  drives.push(drive); // from here on, cleanup detaches it even if mkfs or mount fails
  saveState();
  return drive;
}

/**
 * A new filesystem on a loop device: image dir/name.img (sparse, sizeMiB),
 * attached with direct I/O (no second page cache), mkfs'd, mounted at
 * dir/name (unless opts.mount is false). ext4 gets 4 KiB blocks and no
 * reserved blocks.
 */
export function makeDrive(dir: string, name: string, fsType: FsType, sizeMiB: number = DEFAULT_SIZE_MIB[fsType], opts: { mount?: boolean } = {}): Drive {
  if (sizeMiB < MIN_SIZE_MIB[fsType]) throw new Error(`loop-drives: ${fsType} needs an image of at least ${MIN_SIZE_MIB[fsType]} MiB, not ${sizeMiB}`);
  const drive = attach(dir, name, fsType, sizeMiB, path.join(dir, name));
  if (fsType === 'ext4') run('mkfs.ext4', ['-q', '-F', '-b', '4096', '-m', '0', drive.loop]);
  else if (fsType === 'xfs') run('mkfs.xfs', ['-q', '-f', drive.loop]);
  else run('mkfs.btrfs', ['-q', '-f', drive.loop]);
  if (opts.mount !== false) mountDriveAt(drive, drive.mountPoint);
  return drive;
}

/** A blank loop device (zeros, no filesystem, not mounted): a new drive for the caller to mkfs. */
export function attachBlank(dir: string, name: string, sizeMiB = 64): Drive {
  return attach(dir, name, 'blank', sizeMiB, '');
}

/** Mounts the drive at `where` (made if needed), e.g. another drive's mount point. */
export function mountDriveAt(drive: Drive, where: string): void {
  if (drive.mounted) throw new Error(`loop-drives: ${drive.name} is still mounted at ${drive.mountPoint}`);
  fs.mkdirSync(where, { recursive: true });
  run('mount', [drive.loop, where]);
  drive.mountPoint = where;
  drive.mounted = true;
}

/** Unmounts the drive (lazily if busy); its loop device stays attached, its mount point stays as an empty directory. */
export function unmountDrive(drive: Drive): void {
  run('sync', []);
  for (const m of mountPointsOf(drive.loop)) {
    const e = umountQuietly(m);
    if (e) throw new Error(`loop-drives: ${e}`);
  }
  drive.mounted = false;
}

/** `mount -o remount,ro|rw`. */
export function remountDrive(drive: Drive, mode: 'ro' | 'rw'): void {
  if (!drive.mounted) throw new Error(`loop-drives: ${drive.name} is not mounted`);
  run('mount', ['-o', `remount,${mode}`, drive.mountPoint]);
}

/** Unmounts and detaches the loop device for good (a dead drive). The image file stays. */
export function detachDrive(drive: Drive): void {
  if (drive.mounted) unmountDrive(drive);
  const e = detachQuietly(drive.loop);
  if (e) throw new Error(`loop-drives: ${e}`);
  const i = drives.indexOf(drive);
  if (i >= 0) drives.splice(i, 1);
  saveState();
}

/**
 * A block-for-block copy of a drive (same filesystem UUID, same files, same
 * disk label): the original is unmounted for the copy and mounted back where it
 * was; the clone is attached but not mounted (mountDriveAt it).
 */
export function cloneDrive(drive: Drive, dir: string, name: string): Drive {
  const wasMounted = drive.mounted;
  const where = drive.mountPoint;
  if (wasMounted) unmountDrive(drive);
  const image = path.join(dir, `${name}.img`);
  run('cp', ['--sparse=always', drive.image, image]);
  if (wasMounted) mountDriveAt(drive, where);
  const loop = run('losetup', ['-f', '--show', '--direct-io=on', image]).trim();
  const clone: Drive = { name, image, loop, mountPoint: '', fs: drive.fs, sizeMiB: drive.sizeMiB, mounted: false, fillFiles: [] };
  drives.push(clone);
  saveState();
  return clone;
}

/**
 * Fills the drive's free space (fallocate, then appended blocks until ENOSPC),
 * so the next write there fails with ENOSPC. Returns the files it made.
 */
export function fillDrive(drive: Drive): string[] {
  if (!drive.mounted) throw new Error(`loop-drives: ${drive.name} is not mounted`);
  run('sync', []);
  const st = fs.statfsSync(drive.mountPoint);
  const big = path.join(drive.mountPoint, `.fill-${drive.fillFiles.length}`);
  // Leave a little room for the allocator's own metadata, then top up below.
  let blocks = Math.max(0, st.bfree - 256);
  for (let tries = 0; blocks > 0 && tries < 30; tries++) {
    const r = runRaw('fallocate', ['-l', String(blocks * st.bsize), big]);
    if (r.status === 0) break;
    try {
      fs.rmSync(big, { force: true });
    } catch {
      /* none */
    }
    blocks = Math.floor(blocks * 0.9);
  }
  if (fs.existsSync(big)) drive.fillFiles.push(big);
  // Top up with plain writes until the filesystem says ENOSPC; repeat after a
  // sync, which may give back space reserved for delayed allocation.
  const chunk = Buffer.alloc(st.bsize, 0x5a);
  for (let round = 0; round < 4; round++) {
    const f = path.join(drive.mountPoint, `.fill-${drive.fillFiles.length}`);
    const fd = fs.openSync(f, 'w');
    drive.fillFiles.push(f);
    let written = 0;
    try {
      for (;;) {
        fs.writeSync(fd, chunk);
        written++;
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    }
    try {
      fs.fsyncSync(fd);
    } catch {
      /* ENOSPC at writeback: the space is gone either way */
    }
    fs.closeSync(fd);
    run('sync', []);
    if (written === 0) break;
  }
  return [...drive.fillFiles];
}

/** Removes what fillDrive() made. */
export function unfillDrive(drive: Drive): void {
  for (const f of drive.fillFiles.splice(0)) fs.rmSync(f, { force: true });
  run('sync', []);
}

/** Bytes of the file in the page cache, as fincore counts them (whole pages). Needs fincore (util-linux). */
export function residentBytes(file: string): number {
  const r = spawnSync('fincore', ['--bytes', '--noheadings', '--raw', '--output', 'RES', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`fincore ${file}: ${r.stderr}`);
  return Number(r.stdout.trim());
}

/** `sync; echo 3 > /proc/sys/vm/drop_caches`: the next read comes from the device. */
export function dropCaches(): void {
  run('sync', []);
  fs.writeFileSync('/proc/sys/vm/drop_caches', '3\n');
}

// ---------------------------------------------------------------------------
// Rot beneath the filesystem

export interface Extent {
  logicalStart: number;
  logicalEnd: number;
  physicalStart: number;
  length: number;
  flags: string;
}

/** `filefrag -v` of a file: its extents, in units of `blockSize` bytes. */
export function fileExtents(file: string): { blockSize: number; extents: Extent[]; text: string } {
  const text = run('filefrag', ['-v', file]);
  // "File size of F is 70000 (18 blocks of 4096 bytes)". With `-b4096` on a
  // filesystem of 1 KiB blocks filefrag rounds the physical offsets down: use
  // the filesystem's own unit.
  const unit = text.match(/\(\d+ blocks? of (\d+) bytes\)/);
  if (!unit) throw new Error(`loop-drives: cannot parse filefrag -v ${file}:\n${text}`);
  const extents: Extent[] = [];
  for (const line of text.split('\n')) {
    //    0:        0..      17:       3328..      3345:     18:             last,eof
    const m = line.match(/^\s*\d+:\s*(\d+)\.\.\s*(\d+):\s*(\d+)\.\.\s*(\d+):\s*(\d+):(.*)$/);
    if (m) extents.push({ logicalStart: +m[1], logicalEnd: +m[2], physicalStart: +m[3], length: +m[5], flags: m[6].trim() });
  }
  return { blockSize: Number(unit[1]), extents, text };
}

export interface Rot {
  /** The device written (the loop device). */
  device: string;
  /** Byte offsets on the device that were changed (one per btrfs mirror). */
  deviceOffsets: number[];
  before: Buffer;
  after: Buffer;
}

/**
 * Changes `bytes` bytes of `file` at `offsetInFile` underneath its filesystem:
 * finds the physical block with filefrag (and, on btrfs, maps its logical
 * address to the device with btrfs-map-logical), checks that the device holds
 * the file's bytes there, writes them XOR 0xff to the loop device (O_RDWR,
 * write, fsync), then syncs and drops caches. ext4 and xfs then hand the
 * changed bytes back silently; btrfs answers EIO (data checksums). Both are
 * checked before returning.
 */
export function rotBeneath(drive: Drive, file: string, offsetInFile: number, bytes = 16): Rot {
  if (!drive.mounted) throw new Error(`loop-drives: ${drive.name} is not mounted`);
  const size = fs.statSync(file).size;
  if (offsetInFile < 0 || offsetInFile + bytes > size) throw new Error(`loop-drives: ${file} is ${size} bytes; cannot rot ${bytes} at ${offsetInFile}`);
  // The bytes as the filesystem gives them now, for the check below.
  const expected = Buffer.alloc(bytes);
  const rfd = fs.openSync(file, 'r');
  try {
    fs.readSync(rfd, expected, 0, bytes, offsetInFile);
  } finally {
    fs.closeSync(rfd);
  }
  // Allocated and on the device; then no stale page of the block device's own
  // cache (mkfs wrote through it) may mix into the read-modify-write below.
  dropCaches();
  const { blockSize, extents, text } = fileExtents(file);
  const block = Math.floor(offsetInFile / blockSize);
  const ext = extents.find((e) => e.logicalStart <= block && block <= e.logicalEnd);
  if (!ext) throw new Error(`loop-drives: no extent of ${file} covers block ${block}:\n${text}`);
  if (/inline/.test(ext.flags)) throw new Error(`loop-drives: ${file} is stored inline in the filesystem's metadata (${drive.fs}); make it bigger:\n${text}`);
  if (/unknown_loc|delalloc|encoded|encrypted|not_aligned/.test(ext.flags)) throw new Error(`loop-drives: cannot rot ${file} beneath: extent flags '${ext.flags}':\n${text}`);
  const addr = (ext.physicalStart + (block - ext.logicalStart)) * blockSize + (offsetInFile % blockSize);
  let offsets = [addr];
  if (drive.fs === 'btrfs') {
    // FIEMAP gives btrfs logical addresses; map (4 KiB aligned) to the device.
    const aligned = addr - (addr % 4096);
    const out = run('btrfs-map-logical', ['-l', String(aligned), drive.loop]);
    offsets = [...out.matchAll(/physical (\d+) device (\S+)/g)].filter((m) => m[2] === drive.loop).map((m) => Number(m[1]) + (addr - aligned));
    if (!offsets.length) throw new Error(`loop-drives: btrfs-map-logical -l ${aligned} ${drive.loop} gave no mirror on ${drive.loop}:\n${out}`);
  }
  const fd = fs.openSync(drive.loop, fs.constants.O_RDWR);
  const before = Buffer.alloc(bytes);
  try {
    for (const off of offsets) {
      fs.readSync(fd, before, 0, bytes, off);
      if (!before.equals(expected)) {
        throw new Error(`loop-drives: ${drive.loop} at ${off} holds ${before.toString('hex')}, not the bytes of ${file} at ${offsetInFile} (${expected.toString('hex')}): filefrag mapping wrong?\n${text}`);
      }
    }
    const after = Buffer.from(before.map((b) => b ^ 0xff));
    for (const off of offsets) fs.writeSync(fd, after, 0, bytes, off);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  dropCaches();
  const after = Buffer.from(before.map((b) => b ^ 0xff));
  // Prove that the rot took: ext4/xfs give the new bytes, btrfs says EIO.
  const got = Buffer.alloc(bytes);
  let err: NodeJS.ErrnoException | undefined;
  const cfd = fs.openSync(file, 'r');
  try {
    fs.readSync(cfd, got, 0, bytes, offsetInFile);
  } catch (e) {
    err = e as NodeJS.ErrnoException;
  } finally {
    fs.closeSync(cfd);
  }
  if (drive.fs === 'btrfs') {
    if (err?.code !== 'EIO') throw new Error(`loop-drives: btrfs should answer EIO for rotted ${file}, got ${err ? err.code : `bytes ${got.toString('hex')}`}`);
  } else if (err || !got.equals(after)) {
    throw new Error(`loop-drives: rotted ${file} reads ${err ? err.code : got.toString('hex')}, not ${after.toString('hex')}`);
  }
  return { device: drive.loop, deviceOffsets: offsets, before, after };
}

// ---------------------------------------------------------------------------
// A private mount namespace

export interface MountNamespace {
  /** The pid of the process holding the namespace. */
  pid: number;
  /** Runs a bash command line inside the namespace (stdin empty). */
  run(command: string, env?: NodeJS.ProcessEnv): RunResult;
  /** Ends the namespace: every mount made in it goes with it. */
  close(): void;
}

const namespaces: MountNamespace[] = [];

const sleepMs = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Whether pid has exited (gone, or a zombie: its namespaces are released by then). */
function exited(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return /\) [ZX] /.test(stat);
  } catch {
    return true;
  }
}

/**
 * A mount namespace of its own (propagation private): mounts made in it (a
 * tmpfs over /srv and /mnt, drives at /mnt/disk0...) are seen by the commands
 * run in it and by nothing else on the machine, and vanish with it. Its holder
 * reads a pipe from this process, so it ends when this process does, however
 * it dies; cleanupDrives() closes it before detaching the drives.
 */
export function privateMountNamespace(): MountNamespace {
  const holder = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', 'read x'], { stdio: ['pipe', 'ignore', 'inherit'] });
  holder.unref();
  (holder.stdin as unknown as { unref?: () => void }).unref?.();
  const pid = holder.pid;
  if (!pid) throw new Error('loop-drives: could not start unshare');
  const ours = fs.readlinkSync('/proc/self/ns/mnt');
  for (let waited = 0; ; waited += 10) {
    let theirs = ours;
    try {
      theirs = fs.readlinkSync(`/proc/${pid}/ns/mnt`);
    } catch {
      /* not yet */
    }
    if (theirs !== ours) break;
    if (exited(pid) || waited > 10_000) throw new Error(`loop-drives: unshare --mount (pid ${pid}) did not make a namespace`);
    sleepMs(10);
  }
  const ns: MountNamespace = {
    pid,
    run(command, env) {
      const r = spawnSync('nsenter', ['-t', String(pid), '-m', '--', 'bash', '-c', command], {
        encoding: 'utf8',
        input: '',
        env: env ?? process.env,
        timeout: 120_000,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
      });
      return { status: r.error ? null : r.status, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? r.error.message : ''}` };
    },
    close() {
      const i = namespaces.indexOf(ns);
      if (i >= 0) namespaces.splice(i, 1);
      if (exited(pid)) return;
      try {
        process.kill(pid, 'SIGKILL'); // our own child, by its pid
      } catch {
        return;
      }
      for (let waited = 0; !exited(pid) && waited < 5000; waited += 10) sleepMs(10);
    },
  };
  namespaces.push(ns);
  return ns;
}

// ---------------------------------------------------------------------------
// Cleanup

/** The drives attached now (in order of making). */
export function attachedDrives(): readonly Drive[] {
  return drives;
}

/**
 * Ends the private mount namespaces made here, unmounts (lazily if busy) and
 * detaches every drive made here, newest first, and removes their images. Never throws: what it cannot undo is printed.
 */
export function cleanupDrives(): void {
  // Mounts made in a private namespace go with it; then the loops are free.
  for (const ns of [...namespaces].reverse()) ns.close();
  const all = drives.splice(0).reverse();
  for (const d of all) {
    const e = detachQuietly(d.loop);
    if (e) {
      // Still listed, so that a later call (or the guardian) tries again.
      drives.unshift(d);
      process.stderr.write(`loop-drives: cleanup of ${d.name}: ${e}\n`);
      continue;
    }
    d.mounted = false;
    try {
      fs.rmSync(d.image, { force: true });
    } catch {
      /* its directory goes with the scratch dir */
    }
  }
  if (stateFile && all.length) {
    try {
      saveState();
    } catch {
      /* the guardian then retries what is already done: harmless */
    }
  }
}

// Before helpers' own exit handler removes the scratch directories (which
// would otherwise recurse into mounted filesystems): prepend.
process.prependListener('exit', cleanupDrives);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  const onSignal = (): void => {
    cleanupDrives();
    process.removeListener(sig, onSignal);
    // Others (helpers) re-raise the signal themselves; alone, die of it here.
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  };
  process.prependListener(sig, onSignal);
}
