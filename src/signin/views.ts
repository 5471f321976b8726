import { Html, html, sentence, sentenceText } from './html.ts';
import { LANGUAGES, type Language, MESSAGES, type MessageKey, scopeKey } from './i18n.ts';
import { SCOPES } from '../clients/events.ts';

/** What every hosted page needs to know about the request it answers. */
export interface Frame {
  readonly lang: Language;
  /** where the router is mounted, e.g. `/signin` */
  readonly basePath: string;
  /** the sign-in token, when the page belongs to one */
  readonly token?: string;
  /** CSP nonce for the inline style sheet */
  readonly nonce: string;
}

export interface ClientView {
  readonly name: string;
  readonly testMode: boolean;
  readonly scopes: readonly string[];
}

export const t = (frame: Frame, key: MessageKey): string => MESSAGES[frame.lang][key];
const say = (frame: Frame, key: MessageKey, values?: Record<string, string | number>) => sentence(t(frame, key), values);

const STYLE = `
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1c1e21}
main{max-width:26rem;margin:3rem auto;background:#fff;border-radius:12px;padding:2rem;box-shadow:0 1px 4px rgba(0,0,0,.1)}
h1{font-size:1.35rem;margin:0 0 1rem}
nav{text-align:right;font-size:.9rem;margin:-1rem 0 1rem}
label{display:block;margin:.75rem 0 .25rem;font-weight:600}
input[type=email],input[type=password]{width:100%;box-sizing:border-box;padding:.6rem;border:1px solid #c4c8cf;border-radius:8px;font:inherit}
button{font:inherit;padding:.6rem 1.2rem;border-radius:8px;border:1px solid #1a56db;background:#1a56db;color:#fff;cursor:pointer;margin-top:1rem}
button.secondary{background:#fff;color:#1a56db}
button.link{border:0;background:none;color:#1a56db;padding:0;text-decoration:underline;margin:0}
.actions{display:flex;gap:.75rem;flex-wrap:wrap}
.error{background:#fde8e8;color:#9b1c1c;padding:.6rem .8rem;border-radius:8px}
.badge{display:inline-block;background:#fdf6b2;color:#723b13;border-radius:6px;padding:0 .4rem;font-size:.8rem;margin-left:.4rem;vertical-align:middle}
ul{padding-left:1.2rem}
`;

function languageSwitch(frame: Frame): Html {
  const links = LANGUAGES.filter((l) => l !== frame.lang).map((lang) => {
    const query = new URLSearchParams({ ...(frame.token ? { token: frame.token } : {}), lang });
    return html`<a href="${frame.basePath}?${query.toString()}" hreflang="${lang}" lang="${lang}">${MESSAGES[lang].languageName}</a>`;
  });
  return html`<nav>${links}</nav>`;
}

/** A whole page; `title` is plain text for the window title, `heading` the page's h1. */
export function layout(frame: Frame, title: string, heading: Html, body: Html): string {
  return html`<!doctype html>
<html lang="${frame.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · Keyledger</title>
<style nonce="${frame.nonce}">${new Html(STYLE)}</style>
</head>
<body>
<main>
${languageSwitch(frame)}
<h1>${heading}</h1>
${body}
</main>
</body>
</html>
`.value;
}

const hidden = (frame: Frame, csrf: string) =>
  html`<input type="hidden" name="token" value="${frame.token ?? ''}"><input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="lang" value="${frame.lang}">`;

function heading(frame: Frame, client: ClientView): Html {
  return html`${say(frame, 'heading', { client: client.name })}${client.testMode ? html`<span class="badge">${t(frame, 'testMode')}</span>` : ''}`;
}

function shared(frame: Frame, client: ClientView): Html {
  // in catalogue order: what is always shared first, then each granted scope
  const granted = SCOPES.filter((scope) => client.scopes.includes(scope));
  const items = [t(frame, 'basic'), ...granted.flatMap((scope) => (scopeKey(scope) ? [t(frame, scopeKey(scope)!)] : []))];
  return html`<p>${say(frame, 'shares', { client: client.name })}</p><ul>${items.map((item) => html`<li>${item}</li>`)}</ul>`;
}

export function loginView(frame: Frame, client: ClientView, form: { csrf: string; error?: Html; email?: string }): string {
  return layout(
    frame,
    `${t(frame, 'pageTitle')}: ${client.name}`,
    heading(frame, client),
    html`<p>${say(frame, 'intro', { client: client.name })}</p>
${shared(frame, client)}
${form.error ? html`<p class="error" role="alert">${form.error}</p>` : ''}
<form method="post" action="${frame.basePath}/login">
${hidden(frame, form.csrf)}
<label for="email">${t(frame, 'email')}</label>
<input id="email" name="email" type="email" autocomplete="username" required maxlength="254" value="${form.email ?? ''}">
<label for="password">${t(frame, 'password')}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="256">
<button type="submit">${t(frame, 'logIn')}</button>
</form>`,
  );
}

function accountLine(frame: Frame, account: { name: string; email: string }, logoutCsrf: string): Html {
  return html`<p>${say(frame, 'signedInAs', { name: account.name, email: account.email })}</p>
<form method="post" action="${frame.basePath}/logout">${hidden(frame, logoutCsrf)}<button class="link" type="submit">${t(frame, 'notYou')}</button></form>`;
}

export function consentView(
  frame: Frame,
  client: ClientView,
  account: { name: string; email: string },
  csrf: { decide: string; logout: string },
  error?: Html,
): string {
  return layout(
    frame,
    `${t(frame, 'pageTitle')}: ${client.name}`,
    heading(frame, client),
    html`${error ? html`<p class="error" role="alert">${error}</p>` : ''}
${accountLine(frame, account, csrf.logout)}
${shared(frame, client)}
<form method="post" action="${frame.basePath}/decision" class="actions">
${hidden(frame, csrf.decide)}
<button type="submit" name="decision" value="approve">${t(frame, 'approve')}</button>
<button type="submit" name="decision" value="deny" class="secondary">${t(frame, 'deny')}</button>
</form>`,
  );
}

export function testOnlyView(frame: Frame, client: ClientView, account: { name: string; email: string }, csrf: { decide: string; logout: string }): string {
  return layout(
    frame,
    sentenceText(t(frame, 'testOnlyTitle'), { client: client.name }),
    say(frame, 'testOnlyTitle', { client: client.name }),
    html`<p>${say(frame, 'testOnlyBody', { client: client.name, email: account.email })}</p>
<form method="post" action="${frame.basePath}/decision">
${hidden(frame, csrf.decide)}
<button type="submit" name="decision" value="deny">${say(frame, 'backToApp', { client: client.name })}</button>
</form>
${accountLine(frame, account, csrf.logout)}`,
  );
}

export function messageView(frame: Frame, title: MessageKey, body: Html | string): string {
  return layout(frame, t(frame, title), html`${t(frame, title)}`, html`<p>${body}</p>`);
}

export { say };
