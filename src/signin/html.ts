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

/** A translated sentence with `{name}` placeholders: the text is escaped, each value escaped and emphasised. */
export function sentence(template: string, values: Record<string, string | number> = {}): Html {
  const parts = template.split(/(\{[a-z]+\})/g);
  return new Html(
    parts
      .map((part) => {
        const name = /^\{([a-z]+)\}$/.exec(part)?.[1];
        if (name === undefined || !(name in values)) return escapeHtml(part);
        return `<strong>${escapeHtml(String(values[name]))}</strong>`;
      })
      .join(''),
  );
}
