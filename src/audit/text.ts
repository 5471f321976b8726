import type { ClientDetails } from '../clients/queries.ts';
import type { Explanation } from './explain.ts';
import type { ExplainedActor } from './explain.ts';

/** Readable text of an explanation and a past state, for the command line. */

const actorLine = (actor: ExplainedActor) =>
  actor.kind === 'user' ? (actor.name ? `${actor.name} <${actor.email}> (sub ${actor.sub})` : `user ${actor.sub}`) : actor.kind;

export function explanationText(e: Explanation): string {
  const lines: string[] = [];
  const secret = e.presented.secret;
  const secretLine =
    secret.match === 'this_client'
      ? `${secret.secretId} “${secret.label}” ${secret.hint}, ${secret.state} at the time`
      : secret.match === 'not_this_client'
        ? 'not a secret of this client'
        : 'none';
  lines.push(`Request ${e.requestId}${e.callerRequestId ? ` (caller's id ${e.callerRequestId})` : ''}`);
  lines.push(`  at        ${e.at}`);
  lines.push(`  endpoint  ${e.endpoint}`);
  lines.push(`  client    ${e.presented.clientId ?? '(none sent)'}`);
  lines.push(`  domain    ${e.presented.domain ?? '(none sent)'}`);
  lines.push(`  ip        ${e.presented.ip ?? '(unknown)'}`);
  lines.push(`  secret    ${secretLine}`);
  lines.push('');
  lines.push(`Refused: ${e.decision.reason} (${e.decision.status}), decided at position ${e.decision.position ?? '(none logged)'}`);
  lines.push('');
  lines.push('Checks, in pipeline order:');
  for (const check of e.checks) lines.push(`  ${check.passed ? 'passed' : 'FAILED'}  ${check.check}`);
  lines.push('');
  if (e.cause) {
    const event = e.cause.event;
    lines.push(`Cause: ${event.type} at ${event.at} (position ${event.position}), by ${actorLine(event.actor)}`);
    lines.push(`  ${e.cause.summary}`);
  } else {
    lines.push('Cause: no event explains it.');
  }
  lines.push('');
  lines.push('Fix (to allow the same request now):');
  e.fix.forEach((fix, i) => {
    const call = fix.request ? ` [${fix.request.method} /manage/v1${fix.request.path}${fix.request.body === undefined ? '' : ` ${JSON.stringify(fix.request.body)}`}]` : '';
    lines.push(`  ${i + 1}. ${fix.summary}${call}`);
  });
  lines.push('');
  lines.push(
    `Replay (events folded up to position ${e.replay.position ?? '(none)'}): ${e.replay.reason} — ${e.replay.agrees ? 'agrees with the log' : 'DOES NOT agree with the log'}${e.replay.basis ? ` (${e.replay.basis})` : ''}`,
  );
  return lines.join('\n');
}

export function clientStateText(state: ClientDetails & { asOf: { at: string; position: string } }): string {
  const lines: string[] = [];
  lines.push(`Client ${state.clientId} “${state.name}”, ${state.status}, as of ${state.asOf.at} (position ${state.asOf.position})`);
  lines.push(`  created ${state.createdAt}, last changed ${state.updatedAt}`);
  lines.push('Secrets:');
  if (state.secrets.length === 0) lines.push('  (none)');
  for (const s of state.secrets) {
    const extra = [
      s.expiresAt ? `expires ${s.expiresAt}` : '',
      s.status === 'rotated' ? `grace until ${s.graceUntil}, replaced by ${s.replacedBy}` : '',
      s.revokedAt ? `revoked ${s.revokedAt}` : '',
      s.lastUsedAt ? `last used ${s.lastUsedAt}` : '',
    ].filter(Boolean);
    lines.push(`  ${s.secretId}  “${s.label}”  ${s.hint}  ${s.status}${extra.length ? `, ${extra.join(', ')}` : ''}`);
    lines.push(`      domains: ${s.domains.join(', ') || '(none)'}`);
  }
  lines.push('Domains:');
  if (state.domains.length === 0) lines.push('  (none)');
  for (const d of state.domains) {
    const flags = [d.active ? 'active' : 'inactive', d.allowApi ? 'api' : 'no api', d.allowLogin ? 'sign-in' : 'no sign-in', d.primary ? 'primary' : '', d.testMode ? 'test mode' : '']
      .filter(Boolean)
      .join(', ');
    lines.push(`  ${d.domainId}  ${d.domain}  (${flags})`);
    lines.push(`      server IPs: ${d.serverIps.join(', ') || 'any'}; secrets: ${d.secrets.join(', ') || '(none)'}`);
  }
  lines.push(`Redirect URIs: ${state.redirectUris.join(', ') || '(none)'}`);
  lines.push(`Scopes: ${state.scopes.join(', ') || '(none)'}`);
  lines.push(`Test users: ${state.testUsers.map((u) => u.sub).join(', ') || '(none)'}`);
  return lines.join('\n');
}
