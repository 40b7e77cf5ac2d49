// Exit codes follow fsck's convention (DESIGN.md §3); every failure the core
// raises carries one, so the executables map errors to codes in one place.
export const EXIT = {
  OK: 0,
  REPAIRED: 1,
  PROBLEMS_LEFT: 4,
  OPERATIONAL: 8,
  USAGE: 16,
  CANCELLED: 32,
  NOT_RUNNING: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class DfsError extends Error {
  readonly code: ExitCode;
  constructor(code: ExitCode, message: string) {
    super(message);
    this.name = 'DfsError';
    this.code = code;
  }
}

export const usageError = (message: string) => new DfsError(EXIT.USAGE, message);
export const operationalError = (message: string) => new DfsError(EXIT.OPERATIONAL, message);
export const problemsLeftError = (message: string) => new DfsError(EXIT.PROBLEMS_LEFT, message);
export const cancelledError = (message: string) => new DfsError(EXIT.CANCELLED, message);

/** A node errno error's code, or undefined for anything else. */
export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** Wraps a filesystem error as an operational error naming the path. */
export function fsFailure(what: string, path: string, err: unknown): DfsError {
  const code = errnoCode(err);
  const detail = code ? code : err instanceof Error ? err.message : String(err);
  return operationalError(`${what} ${path}: ${detail}`);
}
