// Text that reaches a terminal or a log line: shared by the executables and the daemon's log.

// What a terminal would act on rather than show: C0 controls (ESC starts a
// sequence that can clear the screen, retitle the window or move the cursor;
// CR overwrites a line), DEL, C1 controls (U+009B is a one-character CSI), the
// line and paragraph separators, and the bidi marks, embeddings, overrides
// and isolates that reorder what follows them. A backslash is escaped too, so
// the escaped text reads back unambiguously.
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\\\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text from a pool (object names, paths, details, errors naming them) made
 * safe for a terminal: every control, DEL, C1 and bidi character is shown as
 * an escape (`\x1b`, `\r`, `\n`, `\u202e`) instead of being sent, and a
 * backslash as `\\`; everything else, accents and CJK included, is left
 * alone. For text output only: JSON keeps names exact. Escape the data, then
 * colour it, never the other way round.
 */
export function printable(s: unknown): string {
  return String(s).replace(UNPRINTABLE, (c) => {
    const named = NAMED[c];
    if (named) return named;
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

