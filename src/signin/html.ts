/**
 * HTML for the hosted pages. Every interpolated value is escaped unless it is already `Html`
 * (built by this module), so text from partners and users — a client named `<script>` — renders
 * as text.
 */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

export const escapeHtml = (text: string): string => text.replace(/[&<>"'`]/g, (c) => ENTITIES[c]!);

function render(value: unknown): string {
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || value === false) return '';
  return escapeHtml(String(value));
}

/** Tagged template: `html\`<p>${userText}</p>\`` escapes `userText`. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  values.forEach((value, i) => {
    out += render(value) + strings[i + 1]!;
  });
  return new Html(out);
}

/*
 * Placeholders are filled by splitting the template, never with String.replace: a replacement
 * string would read `$&`, `$'` and `` $` `` in a partner's client name as patterns.
 */
function fill(template: string, values: Record<string, string | number>, text: (part: string) => string, value: (value: string) => string): string {
  return template
    .split(/(\{[a-z]+\})/g)
    .map((part) => {
      const name = /^\{([a-z]+)\}$/.exec(part)?.[1];
      return name === undefined || !(name in values) ? text(part) : value(String(values[name]));
    })
    .join('');
}

/** A translated sentence with `{name}` placeholders: the text is escaped, each value escaped and emphasised. */
export function sentence(template: string, values: Record<string, string | number> = {}): Html {
  return new Html(fill(template, values, escapeHtml, (value) => `<strong>${escapeHtml(value)}</strong>`));
}

/** The same sentence as plain text (a window title, say); escape it where it is put into HTML. */
export function sentenceText(template: string, values: Record<string, string | number> = {}): string {
  return fill(template, values, (part) => part, (value) => value);
}
