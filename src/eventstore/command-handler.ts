import { createHash } from 'node:crypto';
import { v5 as uuidv5 } from 'uuid';
import { LRUCache } from 'lru-cache';
import {
  type AppendResult,
  type EventMetadata,
  type EventStore,
  type NewEvent,
  WrongExpectedVersion,
} from './port.ts';

const EVENT_ID_NAMESPACE = '6f1c1b8e-3a52-4a8e-9d7e-5b4f0a6c2d11';

/** Event ids derived from the command id: the same command appended twice is stored once. */
export function eventIdFor(commandId: string, index: number): string {
  return uuidv5(`${commandId}/${index}`, EVENT_ID_NAMESPACE);
}

/**
 * A command's id: its idempotency key (an X-Request-Id, a message id) scoped to the stream and
 * the command type. One key reused for another command, or on another stream, is another command
 * (its events get other ids) and is never taken for a retry of the first.
 */
export function commandIdFor(stream: string, type: string, key: string): string {
  return `${stream}/${type}/${key}`;
}

/**
 * The id of an entity made by a creation command, derived from the command's key (`prefix_` and
 * `length` letters and digits): a retried creation targets the same stream and is recognised there
 * as the same command, instead of making a second entity.
 */
export function entityIdFor(prefix: string, length: number, ...scope: readonly string[]): string {
  const digest = createHash('sha256').update(JSON.stringify([prefix, ...scope])).digest('base64url').replace(/[-_]/g, '');
  return `${prefix}_${digest.slice(0, length).padEnd(length, '0')}`;
}

/** What a command carries besides its decision: its type and idempotency key, and the audit metadata. */
export interface CommandEnvelope {
  readonly type: string;
  /** the caller's idempotency key; scoped by `commandIdFor` */
  readonly key: string;
  readonly metadata: EventMetadata;
  /**
   * Must hold before anything is decided (a rate limit, say): awaited after the stream is loaded,
   * so the check and the load run at the same time instead of one after the other.
   */
  readonly precondition?: Promise<unknown>;
}

export interface DomainEvent {
  readonly type: string;
  readonly data: unknown;
}

export interface Aggregate<S, E extends DomainEvent> {
  readonly initial: S;
  evolve(state: S, event: E): S;
}

export interface CommandOutcome<S, E> {
  readonly events: readonly E[];
  readonly state: S;
  /** the stream revision `state` reflects (-1n: the stream has no events) */
  readonly revision: bigint;
  /** undefined when the decision produced no events (nothing changed) */
  readonly append: AppendResult | undefined;
  /**
   * The command (same stream, type and key) was applied before, so nothing was written now: the
   * store found its events already stored, or it is the command that created the stream.
   */
  readonly duplicate: boolean;
}

interface Cached<S> {
  state: S;
  /** folds events another node reports (`observe`) into `state` */
  aggregate: Aggregate<S, DomainEvent>;
  revision: bigint; // -1n: no events
  /** id of the stream's first event: a retried creation finds itself there */
  firstEventId: string | undefined;
  /**
   * When another node was last seen writing this stream (a conflict, or a read that found events
   * this cache had not): for a while after, the cache is likely stale, so a command reads what it
   * missed first (one cheap read) rather than append, conflict, back off, read and append again.
   */
  contendedAt?: number;
}

/** Events another node appended to a stream, oldest first, as it reports them (`CommandHandler.observe`). */
export interface ObservedEvent {
  readonly revision: bigint;
  readonly type: string;
  readonly data: unknown;
  /** the event's id (a stream's first one lets a retried creation find itself) */
  readonly id?: string;
}

/** What `onAppended` hears: the events this node just appended to a stream, with their revisions. */
export type AppendedListener = (stream: string, events: readonly ObservedEvent[]) => void;

/** How long after another node last wrote a stream this node reads it before deciding. */
const CONTENDED_MS = 60_000;
const isContended = (cached: Cached<unknown>) => cached.contendedAt !== undefined && Date.now() - cached.contendedAt < CONTENDED_MS;

/**
 * Load → decide → append, with optimistic concurrency. Commands on one stream are queued
 * in-process, so a node never races itself; a conflict with another node re-reads the new
 * events and decides again. Folded states are cached per stream by revision, so a command
 * reads only the events it has not seen.
 */
export class CommandHandler {
  private readonly cache = new LRUCache<string, Cached<unknown>>({ max: 10_000 });
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly appendedListeners = new Set<AppendedListener>();

  constructor(
    private readonly store: EventStore,
    private readonly options: { maxAttempts?: number } = {},
  ) {}

  async handle<S, E extends DomainEvent>(
    stream: string,
    aggregate: Aggregate<S, E>,
    command: CommandEnvelope,
    /** `revision`: the stream revision `state` reflects (-1n: no events), for a caller's expected-revision check */
    decide: (state: S, revision: bigint) => readonly E[],
  ): Promise<CommandOutcome<S, E>> {
    return await this.serialised(stream, () => this.run(stream, aggregate, command, decide));
  }

  /**
   * Hears every append this node makes (synchronously, before the command returns): a cluster
   * can pass them to the other nodes' `observe`, so their caches stay current. Returns the unsubscribe.
   */
  onAppended(listener: AppendedListener): () => void {
    this.appendedListeners.add(listener);
    return () => this.appendedListeners.delete(listener);
  }

  /**
   * Events another node appended (its `onAppended`), folded into this node's cached state when
   * they follow it directly: the next command here decides without reading the stream first. A
   * report that does not fit (a gap: one was lost or overtaken) marks the stream contended, so it
   * is read first. Only ever a hint — the append's expected revision still decides. A report
   * that starts a stream (revision 0, with its id) is cached from scratch when `aggregate` is
   * given: the first command here on a stream another node created reads nothing either.
   */
  observe<S>(stream: string, events: readonly ObservedEvent[], aggregate?: Aggregate<S, DomainEvent>): void {
    if (events.length === 0) return;
    let cached = this.cache.peek(stream);
    if (!cached) {
      const first = events[0]!;
      if (!aggregate || first.revision !== 0n || first.id === undefined) return;
      cached = { state: aggregate.initial, aggregate: aggregate as Aggregate<unknown, DomainEvent>, revision: -1n, firstEventId: first.id };
    }
    let { state, revision } = cached;
    for (const event of events) {
      if (event.revision <= revision) continue; // already here
      if (event.revision !== revision + 1n) {
        cached.contendedAt = Date.now();
        return;
      }
      state = cached.aggregate.evolve(state, { type: event.type, data: event.data });
      revision = event.revision;
    }
    if (revision === cached.revision) return;
    // Current again as far as this node can know: it need not read before the next command.
    this.cache.set(stream, { ...cached, state, revision, contendedAt: undefined });
  }

  /** The stream's state as a command on it would now decide from (the events it had not seen are read). */
  async read<S, E extends DomainEvent>(stream: string, aggregate: Aggregate<S, E>): Promise<S> {
    return await this.serialised(stream, async () => (await this.load(stream, aggregate, false)).state);
  }

  /**
   * The state a command's first attempt would decide from: the cached fold while this node knows
   * of nothing newer (no read), else what a read finds. A hint for choosing a command — the
   * command itself still decides on it and appends at its revision.
   */
  async peek<S, E extends DomainEvent>(stream: string, aggregate: Aggregate<S, E>): Promise<S> {
    return await this.serialised(stream, async () => (await this.load(stream, aggregate, true)).state);
  }

  private async serialised<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(key) ?? Promise.resolve();
    const current = previous.then(work, work);
    const tail = current.catch(() => {});
    this.queues.set(key, tail);
    void tail.then(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    });
    return await current;
  }

  private async load<S, E extends DomainEvent>(
    stream: string,
    aggregate: Aggregate<S, E>,
    trustCache: boolean,
  ): Promise<Cached<S> & { fromCache: boolean }> {
    const cached = this.cache.get(stream) as Cached<S> | undefined;
    // A cached state may be stale if another node wrote since; the append's expected revision
    // catches that (WrongExpectedVersion), and the retry reads what it missed.
    if (cached && trustCache && !isContended(cached)) return { ...cached, fromCache: true };
    const from: Cached<S> = cached ?? { state: aggregate.initial, aggregate, revision: -1n, firstEventId: undefined };
    const events = await this.store.readStream(stream, { fromRevision: from.revision + 1n });
    let { state, revision, firstEventId } = from;
    for (const event of events) {
      state = aggregate.evolve(state, { type: event.type, data: event.data } as E);
      if (event.revision === 0n) firstEventId = event.id;
      revision = event.revision;
    }
    // What a read finds was written elsewhere: this node's own appends advance the cache.
    const contendedAt = cached && events.length > 0 ? Date.now() : cached?.contendedAt;
    this.cache.set(stream, { state, aggregate, revision, firstEventId, contendedAt });
    return { state, aggregate, revision, firstEventId, contendedAt, fromCache: false };
  }

  private async run<S, E extends DomainEvent>(
    stream: string,
    aggregate: Aggregate<S, E>,
    command: CommandEnvelope,
    decide: (state: S, revision: bigint) => readonly E[],
  ): Promise<CommandOutcome<S, E>> {
    const maxAttempts = this.options.maxAttempts ?? 20;
    const commandId = commandIdFor(stream, command.type, command.key);
    for (let attempt = 1; ; attempt++) {
      const { state, revision, firstEventId, fromCache, contendedAt } = await this.load(stream, aggregate, attempt === 1);
      if (attempt === 1 && command.precondition) await command.precondition;
      // A creation decides "already exists" on its own stream; that it was this very command is
      // only known from the ids, so check them first.
      if (firstEventId !== undefined && firstEventId === eventIdFor(commandId, 0)) {
        return { events: [], state, revision, append: undefined, duplicate: true };
      }
      let decided: readonly E[];
      try {
        decided = decide(state, revision);
      } catch (error) {
        // A refusal or a no-op decided on a cached state is only final once decided on a fresh one.
        if (fromCache) continue;
        throw error;
      }
      if (decided.length === 0) {
        if (fromCache) continue;
        return { events: [], state, revision, append: undefined, duplicate: false };
      }
      const events: NewEvent[] = decided.map((e, i) => ({
        id: eventIdFor(commandId, i),
        type: e.type,
        data: e.data,
        metadata: command.metadata,
      }));
      try {
        const append = await this.store.append(stream, events, { expectedRevision: revision < 0n ? 'no_stream' : revision });
        let next = state;
        for (const e of decided) next = aggregate.evolve(next, e);
        if (!append.duplicate) {
          this.cache.set(stream, { state: next, aggregate, revision: append.nextRevision, firstEventId: firstEventId ?? events[0]!.id, contendedAt });
          if (this.appendedListeners.size > 0) {
            const first = append.nextRevision - BigInt(decided.length) + 1n;
            const appended = decided.map((e, i) => ({ revision: first + BigInt(i), type: e.type, data: e.data, id: events[i]!.id }));
            for (const listener of this.appendedListeners) listener(stream, appended);
          }
          return { events: decided, state: next, revision: append.nextRevision, append, duplicate: false };
        }
        this.cache.delete(stream);
        return { events: decided, state: next, revision: append.nextRevision, append, duplicate: true };
      } catch (error) {
        if (!(error instanceof WrongExpectedVersion) || attempt >= maxAttempts) throw error;
        const stale = this.cache.get(stream);
        if (stale) stale.contendedAt = Date.now();
        // Another node wrote first. Its events are committed: the first retry reads them at once;
        // only a stream written by several at the same moment backs off, with jitter.
        if (attempt > 1) await new Promise((r) => setTimeout(r, Math.random() * Math.min(5 * attempt, 50)));
      }
    }
  }
}
