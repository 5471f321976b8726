import type { Kysely } from 'kysely';
import type { CoreDatabase, ReadModelDatabase } from '../db/schema.ts';
import type { Language } from './groups.ts';
import { SUPPORT_GROUPS } from './groups.ts';
import type { TicketSummary } from './service.ts';

const WORDS = {
  en: { title: 'Support ticket', group: 'Group', status: 'Status', opened: 'Opened', support: 'Support', note: 'private note', exported: 'Exported' },
  nl: { title: 'Supportticket', group: 'Groep', status: 'Status', opened: 'Geopend', support: 'Support', note: 'privénotitie', exported: 'Geëxporteerd' },
} satisfies Record<Language, Record<string, string>>;

export interface TranscriptLine {
  readonly seq: number;
  readonly at: string;
  readonly who: string;
  readonly text: string;
  readonly private: boolean;
}

export interface Transcript {
  readonly ticket: TicketSummary;
  readonly lines: readonly TranscriptLine[];
  readonly language: Language;
  readonly exportedAt: string;
}

/**
 * A ticket's conversation for download. The customer's copy has no private notes and names
 * agents "Support"; an agent's copy has the notes, marked, and the agents' names.
 */
export async function readTranscript(
  deps: { db: Kysely<CoreDatabase>; rm: Kysely<ReadModelDatabase> },
  ticket: TicketSummary,
  forAgent: boolean,
  language: Language,
  now: Date,
): Promise<Transcript> {
  let query = deps.rm.selectFrom('ticket_messages').select(['seq', 'at', 'author', 'author_role', 'text', 'private']).where('ticket_id', '=', ticket.ticketId);
  if (!forAgent) query = query.where('private', '=', false);
  const rows = await query.orderBy('seq').limit(10_000).execute();
  const subs = [...new Set(rows.map((r) => r.author))];
  const names = new Map(subs.length === 0 ? [] : (await deps.db.selectFrom('users').select(['sub', 'name']).where('sub', 'in', subs).execute()).map((u) => [u.sub, u.name]));
  const w = WORDS[language];
  return {
    ticket,
    language,
    exportedAt: now.toISOString(),
    lines: rows.map((r) => ({
      seq: r.seq,
      at: r.at.toISOString(),
      who: r.author_role === 'agent' && !forAgent ? w.support : (names.get(r.author) ?? String(r.author)),
      text: r.text,
      private: r.private,
    })),
  };
}

const groupName = (t: Transcript) => SUPPORT_GROUPS.find((g) => g.id === t.ticket.group)?.name[t.language] ?? t.ticket.group;

export function transcriptText(t: Transcript): string {
  const w = WORDS[t.language];
  const head = [
    `${w.title} ${t.ticket.ticketId}: ${t.ticket.subject}`,
    `${w.group}: ${groupName(t)}`,
    `${w.status}: ${t.ticket.status}`,
    `${w.exported}: ${t.exportedAt}`,
    '',
  ];
  const body = t.lines.map((l) => `[${l.at}] ${l.who}${l.private ? ` (${w.note})` : ''}:\n${l.text}\n`);
  return [...head, ...body].join('\n');
}

/** The HTML copy as a view model: the page layer's template renders it (escaped). */
export function transcriptView(t: Transcript) {
  const w = WORDS[t.language];
  return {
    lang: t.language,
    title: `${w.title} ${t.ticket.ticketId}`,
    subject: t.ticket.subject,
    meta: [
      { label: w.group, value: groupName(t) },
      { label: w.status, value: t.ticket.status },
      { label: w.exported, value: t.exportedAt },
    ],
    noteLabel: w.note,
    lines: t.lines,
  };
}
