/**
 * What Postgres cannot store: NUL (text refuses the byte, 22021; jsonb refuses `\u0000`, 22P05)
 * and unpaired UTF-16 surrogates (not encodable as UTF-8). Input carrying them is refused where
 * it enters — HTTP bodies, paths and queries, socket payloads — by name, before any query.
 */

// eslint-disable-next-line no-control-regex
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// eslint-disable-next-line no-control-regex
const UNSTORABLE_ALL = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export const isStorable = (value: string): boolean => !UNSTORABLE.test(value);

export const UNSTORABLE_MESSAGE = 'contains a NUL character or an unpaired surrogate, which cannot be stored';

/** A field name fit to be echoed in an error: the offending characters written as `\uXXXX`. */
const printable = (key: string) => key.replace(UNSTORABLE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/**
 * The path (`address.street`, `items.2`) of the first string — value or key — Postgres cannot
 * store, `''` when `value` itself is such a string, undefined when everything is storable.
 * Iterative, so a deeply nested body cannot overflow the stack.
 */
export function findUnstorable(value: unknown): string | undefined {
  const stack: [unknown, string][] = [[value, '']];
  while (stack.length > 0) {
    const [current, path] = stack.pop()!;
    if (typeof current === 'string') {
      if (!isStorable(current)) return path;
    } else if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) stack.push([current[i], path ? `${path}.${i}` : String(i)]);
    } else if (current !== null && typeof current === 'object') {
      const entries = Object.entries(current);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, item] = entries[i]!;
        const itemPath = path ? `${path}.${printable(key)}` : printable(key);
        if (!isStorable(key)) return itemPath;
        stack.push([item, itemPath]);
      }
    }
  }
  return undefined;
}

/** Postgres refused a character (22021 character_not_in_repertoire, 22P05 untranslatable_character). */
export function isUnstorableTextError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '22021' || code === '22P05';
}
