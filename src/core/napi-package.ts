import fs from 'node:fs';

// A napi-rs package's index.js picks its platform package (e.g.
// @node-rs/xxhash-linux-x64-gnu) after asking whether the C library is musl;
// @napi-rs/blake-hash asks process.report.getReport(), which gathers a whole
// diagnostic report (~10 ms, in every thread that loads it). The platform
// package is required here directly when this host's is known and installed;
// anything else (another platform, NAPI_RS_NATIVE_LIBRARY_PATH, a broken
// addon) goes through the package's own loader, which says what is wrong.

let libc: 'gnu' | 'musl' | null | undefined;

/** gnu or musl by /usr/bin/ldd, as the newer napi-rs loaders test first; null when unreadable. */
function hostLibc(): 'gnu' | 'musl' | null {
  if (libc === undefined) {
    try {
      libc = fs.readFileSync('/usr/bin/ldd', 'latin1').includes('musl') ? 'musl' : 'gnu';
    } catch {
      libc = null;
    }
  }
  return libc;
}

/** The platform package's name for `pkg` on this host, if napi-rs publishes one by a name known here. */
export function napiPlatformPackage(pkg: string): string | undefined {
  if (process.platform !== 'linux' || (process.arch !== 'x64' && process.arch !== 'arm64')) return undefined;
  const c = hostLibc();
  return c ? `${pkg}-linux-${process.arch}-${c}` : undefined;
}

/** Loads a napi-rs package, through its platform package when that is at hand. */
export function requireNapiPackage<T>(pkg: string): T {
  const platform = process.env.NAPI_RS_NATIVE_LIBRARY_PATH ? undefined : napiPlatformPackage(pkg);
  if (platform) {
    try {
      return require(platform) as T;
    } catch {
      // Not installed here, or not loadable: the package's loader decides and reports.
    }
  }
  return require(pkg) as T;
}
