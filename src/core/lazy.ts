// Start-up time: every executable and every verify thread loads the core, but
// few of them hash, encode or place anything. What is costly to load is made
// on first use instead (issue 12: a command's --help within 30 ms of `node -e 0`).

/** A value made by `make` on the first call and returned by every later one. */
export function lazy<T>(make: () => T): () => T {
  let made = false;
  let value: T;
  return () => {
    if (!made) {
      value = make();
      made = true;
    }
    return value;
  };
}
