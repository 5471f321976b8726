/** The hidden fields (CSRF token, language, idempotency key, revision, tokens) of the first form on `page` posting to `action`, decoded. */
export function hiddenFields(page: string, action: string): Record<string, string> {
  const form = page.split('<form').find((f) => f.slice(0, 300).includes(`action="${action}"`));
  if (!form) throw new Error(`no form posting to ${action} on the page:\n${page.slice(0, 3000)}`);
  const fields: Record<string, string> = {};
  for (const match of form.split('</form>')[0]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[match[1]!] = decode(match[2]!);
  return fields;
}

const decode = (value: string) => value.replaceAll('&amp;', '&').replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>');
