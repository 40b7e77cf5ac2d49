import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

// Turns a `make install DESTDIR=ROOT PREFIX=/usr` tree into a Debian package
// tree: control file, maintainer scripts that only reload systemd (nothing
// is enabled or started unasked), compressed man pages, copyright, changelog
// and md5sums. `make deb` then runs dpkg-deb on it. dpkg keeps the file list,
// so the install manifest of `make uninstall` is left out.

export interface DebInfo {
  name: string;
  version: string;
  arch: string;
  maintainer: string;
  description: string;
  /** When the package was built, for the changelog (RFC 5322). */
  date: string;
}

/**
 * Stock Debian 12 satisfies these: its nodejs is 18.20; the addons link libc,
 * libgcc, libstdc++ and libsystemd. sd-notify's addon is carried for Node 18
 * and for the node that built the package, so no newer node may take it.
 */
export function depends(buildMajor: number): string {
  return `nodejs (>= 18.19), nodejs (<< ${Math.max(18, buildMajor) + 1}), libc6 (>= 2.34), libgcc-s1, libstdc++6, libsystemd0`;
}

export function controlFile(info: DebInfo, installedKiB: number): string {
  const [synopsis, ...rest] = info.description.split('\n');
  return [
    `Package: ${info.name}`,
    `Version: ${info.version}`,
    `Architecture: ${info.arch}`,
    `Maintainer: ${info.maintainer}`,
    `Installed-Size: ${installedKiB}`,
    `Depends: ${depends(Number(process.versions.node.split('.')[0]))}`,
    'Suggests: prometheus-node-exporter, prometheus',
    'Section: admin',
    'Priority: optional',
    `Description: ${synopsis}`,
    ...rest.map((l) => (l.trim() ? ` ${l}` : ' .')),
    '',
  ].join('\n');
}

/** Reloads systemd so it sees the units; the operator enables them (dfs-scrub-schedule, systemctl). */
const RELOAD = ['if [ -d /run/systemd/system ]; then', '  systemctl --system daemon-reload >/dev/null || true', 'fi'];

export const POSTINST = ['#!/bin/sh', 'set -e', 'if [ "$1" = configure ]; then', ...RELOAD.map((l) => `  ${l}`), 'fi', ''].join('\n');

/** Purge also takes the claim notes root's tools left in /run (src/core/disk-claims.ts). */
export const POSTRM = [
  '#!/bin/sh',
  'set -e',
  'case "$1" in',
  '  remove|purge)',
  ...RELOAD.map((l) => `    ${l}`),
  '    ;;',
  'esac',
  'if [ "$1" = purge ]; then',
  '  rm -rf /run/dynamicfs/claims',
  '  rmdir /run/dynamicfs 2>/dev/null || true',
  'fi',
  '',
].join('\n');

export function copyrightFile(info: DebInfo): string {
  return [
    'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
    `Upstream-Name: ${info.name}`,
    '',
    'Files: *',
    `Copyright: ${info.date.split(' ')[3]} the DynamicFS scrub toolkit authors`,
    'License: MIT',
    '',
    'Files: usr/lib/dynamicfs/node_modules/*',
    'Copyright: the authors of each module (see its LICENSE file)',
    'License: MIT or ISC or Apache-2.0, as each module states',
    '',
    'License: MIT',
    ' Permission is hereby granted, free of charge, to any person obtaining a copy',
    ' of this software and associated documentation files (the "Software"), to deal',
    ' in the Software without restriction, including without limitation the rights',
    ' to use, copy, modify, merge, publish, distribute, sublicense, and/or sell',
    ' copies of the Software, and to permit persons to whom the Software is',
    ' furnished to do so, subject to the following conditions:',
    ' .',
    ' The above copyright notice and this permission notice shall be included in',
    ' all copies or substantial portions of the Software.',
    ' .',
    ' THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR',
    ' IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,',
    ' FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE',
    ' AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER',
    ' LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,',
    ' OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN',
    ' THE SOFTWARE.',
    '',
  ].join('\n');
}

/**
 * Each with its reason. sd-notify's addon calls only libsystemd and Node's
 * own symbols: no libc function of its own, so the linker (--as-needed)
 * rightly leaves libc out of it.
 */
const LINTIAN_OVERRIDES = [
  '# A Node.js addon calling only libsystemd and Node symbols: it needs no libc symbol itself.',
  'PKG: library-not-linked-against-libc [usr/lib/dynamicfs/node_modules/sd-notify/lib/binding/*/notify.node]',
];

export function changelogFile(info: DebInfo): string {
  return [`${info.name} (${info.version}) unstable; urgency=medium`, '', `  * Release ${info.version}.`, '', ` -- ${info.maintainer}  ${info.date}`, ''].join('\n');
}

function walk(dir: string, fn: (file: string, st: fs.Stats) => void): void {
  for (const name of fs.readdirSync(dir).sort()) {
    const file = path.join(dir, name);
    const st = fs.lstatSync(file);
    if (st.isDirectory()) walk(file, fn);
    fn(file, st);
  }
}

/** Makes ROOT (an installed tree) a package tree. */
export function debianize(root: string, info: DebInfo): void {
  const doc = path.join(root, 'usr/share/doc', info.name);
  fs.rmSync(path.join(root, 'usr/lib/dynamicfs/install-manifest.txt'), { force: true });
  // Man pages and the changelog gzip'ed without a timestamp (gzipSync writes none), as policy asks.
  walk(path.join(root, 'usr/share/man'), (file, st) => {
    if (!st.isFile() || file.endsWith('.gz')) return;
    fs.writeFileSync(`${file}.gz`, gzipSync(fs.readFileSync(file), { level: 9 }));
    fs.rmSync(file);
  });
  fs.mkdirSync(doc, { recursive: true });
  fs.writeFileSync(path.join(doc, 'copyright'), copyrightFile(info));
  fs.writeFileSync(path.join(doc, 'changelog.gz'), gzipSync(changelogFile(info), { level: 9 }));
  const overrides = path.join(root, 'usr/share/lintian/overrides');
  fs.mkdirSync(overrides, { recursive: true });
  fs.writeFileSync(path.join(overrides, info.name), LINTIAN_OVERRIDES.map((l) => l.replace('PKG', info.name)).join('\n') + '\n');
  // Owner rights only from the tree: root:root comes from dpkg-deb --root-owner-group.
  walk(root, (file, st) => {
    if (st.isDirectory()) fs.chmodSync(file, 0o755);
    else if (st.isFile()) fs.chmodSync(file, (st.mode & 0o111) !== 0 ? 0o755 : 0o644);
  });
  const sums: string[] = [];
  let bytes = 0;
  walk(root, (file, st) => {
    if (!st.isFile()) return;
    bytes += st.size;
    sums.push(`${createHash('md5').update(fs.readFileSync(file)).digest('hex')}  ${path.relative(root, file)}`);
  });
  const control = path.join(root, 'DEBIAN');
  fs.mkdirSync(control, { mode: 0o755 });
  fs.writeFileSync(path.join(control, 'control'), controlFile(info, Math.ceil(bytes / 1024)));
  fs.writeFileSync(path.join(control, 'md5sums'), sums.sort((a, b) => (a.slice(34) < b.slice(34) ? -1 : 1)).join('\n') + '\n');
  fs.writeFileSync(path.join(control, 'postinst'), POSTINST, { mode: 0o755 });
  fs.writeFileSync(path.join(control, 'postrm'), POSTRM, { mode: 0o755 });
  for (const f of ['control', 'md5sums']) fs.chmodSync(path.join(control, f), 0o644);
}

if (require.main === module) {
  const [root, version, arch, maintainer, date] = process.argv.slice(2);
  if (!root || !version || !arch || !maintainer || !date) {
    process.stderr.write('usage: deb.js ROOT VERSION ARCH MAINTAINER DATE\n');
    process.exit(16);
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8'));
  debianize(root, {
    name: pkg.name,
    version,
    arch,
    maintainer,
    date,
    description: [
      'scrubber for DynamicFS storage pools',
      'Reads every extent on every disk of a DynamicFS pool, proves each copy',
      'against its checksum, rebuilds what rotted from redundancy, and reports to',
      'the terminal, systemd and Prometheus: dfs-scrub, the dfs-scrubd daemon,',
      'systemd timers (dfs-scrub-schedule), dfs-metrics and dfs-pool.',
    ].join('\n'),
  });
}
