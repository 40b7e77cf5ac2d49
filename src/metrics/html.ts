import { printable } from '../core/printable';

// Markup built from text that may hold anything: pool paths, disk paths and
// error messages are user input. The `html` template escapes every value put
// into it unless that value is itself markup made by `html`, so escaping is
// what happens by default and forgetting it is not possible.

/** Markup made here, trusted as it is when put into another template. */
export class Markup {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Text safe in an element's content and in a quoted attribute. Control and
 * bidi characters are shown as escapes first (as on a terminal): a path must
 * not reorder or hide what the page says after it.
 */
export const escapeHtml = (value: unknown): string => printable(value).replace(/[&<>"']/g, (c) => ENTITIES[c]);

function render(value: unknown): string {
  if (value instanceof Markup) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(value);
}

/** A template whose values are escaped; arrays are joined, absent values left out. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Markup {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Markup(out);
}
