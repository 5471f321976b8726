import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Socket } from 'socket.io-client';
import { startTestApp, type TestApp } from './support/app.ts';
import { Caller } from './support/http.ts';
import { openTicket, supportSocket, supportUser } from './support-socket.ts';

let t: TestApp;
const sockets: Socket[] = [];
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await t?.close();
});

const EN_LOGIN = 'You must be logged in to start a support ticket';
const NL_LOGIN = 'Je moet ingelogd zijn om een supportticket te starten';

describe('the /support page for a visitor', () => {
  it('when the browser prefers English, then it says in English that you must log in, with a login link', async () => {
    const page = await new Caller(t.url).get('/support', { 'accept-language': 'en-GB,en;q=0.9' });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.text).toContain('<html lang="en">');
    expect(page.text).toContain(EN_LOGIN);
    expect(page.text).toMatch(/<a class="button" href="\/support\/login\?lang=en">Log in<\/a>/);
    expect(page.text).toContain('OAuth, tokens, scopes, API access and client settings');
    expect(page.text).toContain('Account and login');
    expect(page.text).toContain('Plans and billing');
    expect(page.text).not.toContain(NL_LOGIN);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
  });

  it('when the browser prefers Dutch, then it says it in Dutch, and the switch goes back to English', async () => {
    const page = await new Caller(t.url).get('/support', { 'accept-language': 'nl-NL,nl;q=0.9,en;q=0.8' });
    expect(page.text).toContain('<html lang="nl">');
    expect(page.text).toContain(NL_LOGIN);
    expect(page.text).toMatch(/href="\/support\/login\?lang=nl">Inloggen<\/a>/);
    expect(page.text).toContain('OAuth, tokens, scopes, API-toegang en clientinstellingen');
    expect(page.text).toContain('Account en inloggen');
    expect(page.text).toContain('Abonnementen en facturatie');
    expect(page.text).toContain('href="/support?lang=en"');
  });

  it('when the visitor picks a language with ?lang, then it wins over the browser and is remembered', async () => {
    const visitor = new Caller(t.url);
    const chosen = await visitor.get('/support?lang=nl', { 'accept-language': 'en' });
    expect(chosen.text).toContain(NL_LOGIN);
    expect(visitor.cookies.get('kl_lang')).toBe('nl');
    const later = await visitor.get('/support', { 'accept-language': 'en' });
    expect(later.text).toContain(NL_LOGIN);
    const unknown = await new Caller(t.url).get('/support?lang=fr', { 'accept-language': 'fr-FR, de;q=0.5' });
    expect(unknown.text).toContain(EN_LOGIN);
  });

  it('when the login page is opened, then it is the dashboard login form in the chosen language, coming back to /support', async () => {
    const moved = await new Caller(t.url).get('/support/login?lang=nl');
    expect(moved.status).toBe(303);
    expect(moved.headers.get('location')).toBe('/dashboard/login?next=%2Fsupport&lang=nl');
    const en = await new Caller(t.url).get('/dashboard/login?next=%2Fsupport&lang=en');
    expect(en.text).toContain('Log in to Keyledger');
    expect(en.text).toContain('<input type="hidden" name="next" value="/support">');
    expect(en.text).toMatch(/<input type="hidden" name="csrf" value="[^"]+">/);
    const nl = await new Caller(t.url).get('/dashboard/login?next=%2Fsupport&lang=nl');
    expect(nl.text).toContain('Inloggen bij Keyledger');
    expect(nl.text).toContain('Wachtwoord');
  });
});

describe('the /support page for a logged-in user', () => {
  it('when a logged-in user opens it, then the widget is there in their language, with their tickets escaped', async () => {
    const user = await supportUser(t, { name: 'Ada <img src=x onerror=alert(1)>' });
    const socket = await supportSocket(t, user.caller);
    sockets.push(socket);
    await openTicket(socket, { subject: '<script>alert("subject")</script>', message: '<script>alert("message")</script>' });

    const en = await user.caller.get('/support', { 'accept-language': 'en' });
    expect(en.status).toBe(200);
    expect(en.text).not.toContain('class="login-required"');
    expect(en.text).toContain('Welcome back. Start a ticket or leave your question.');
    expect(en.text).toContain('Start ticket');
    expect(en.text).toContain('<option value="oauth-api">OAuth, tokens, scopes, API access and client settings</option>');
    expect(en.text).toContain('/socket.io/socket.io.min.js');
    expect(en.text).toMatch(/\/assets\/support\/support\.js\?v=[0-9a-f]+/);
    // user content is escaped, never markup
    expect(en.text).toContain('&lt;script&gt;alert(&quot;subject&quot;)&lt;/script&gt;');
    expect(en.text).not.toContain('<script>alert(');
    expect(en.text).toContain('Ada &lt;img src=x onerror=alert(1)&gt;');
    expect(en.text).not.toContain('<img src=x');
    // the embedded configuration cannot be closed by content
    const config = /<script type="application\/json" id="support-config">(.*?)<\/script>/s.exec(en.text)![1]!;
    expect(config).not.toContain('<');
    expect(JSON.parse(config)).toMatchObject({ lang: 'en', namespace: '/support', me: { sub: user.sub, agent: false } });

    const nl = await user.caller.get('/support?lang=nl');
    expect(nl.text).toContain('Welkom terug. Start een ticket of laat je vraag achter.');
    expect(nl.text).toContain('Ticket starten');
    expect(nl.text).toContain('Je tickets');
    expect(JSON.parse(/id="support-config">(.*?)<\/script>/s.exec(nl.text)![1]!).strings.noAgents).toBe(
      'Er is nu geen supportmedewerker online. Laat je vraag achter: we beantwoorden hem later.',
    );
  });

  it('when the page loads its scripts, then the socket.io client and the widget are served', async () => {
    const caller = new Caller(t.url);
    const client = await caller.get('/socket.io/socket.io.min.js');
    expect(client.status).toBe(200);
    expect(client.headers.get('content-type')).toMatch(/javascript/);
    const widget = await caller.get('/assets/support/support.js');
    expect(widget.headers.get('cache-control')).toContain('max-age=31536000');
    expect(widget.status).toBe(200);
    // the widget writes user content as text only
    expect(widget.text).toContain('textContent');
    expect(widget.text).not.toMatch(/innerHTML|insertAdjacentHTML|document\.write/);
    expect((await caller.get('/assets/support/missing.js')).status).toBe(404);
  });

  it('when a logged-out visitor comes back, then the login message shows again', async () => {
    const user = await supportUser(t);
    expect((await user.caller.get('/support')).text).not.toContain('class="login-required"');
    await user.caller.post('/manage/v1/account/logout');
    expect((await user.caller.get('/support', { 'accept-language': 'en' })).text).toContain(EN_LOGIN);
  });
});
