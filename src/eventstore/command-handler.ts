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
}

interface Cached<S> {
  state: S;
  revision: bigint; // -1n: no events
}

/**
 * Load → decide → append, with optimistic concurrency. Commands on one stream are queued
 * in-process, so a node never races itself; a conflict with another node re-reads the new
 * events and decides again. Folded states are cached per stream by revision, so a command
 * reads only the events it has not seen.
 */
export class CommandHandler {
  private readonly cache = new LRUCache<string, Cached<unknown>>({ max: 10_000 });
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: EventStore,
    private readonly options: { maxAttempts?: number } = {},
  ) {}

  async handle<S, E extends DomainEvent>(
    stream: string,
    aggregate: Aggregate<S, E>,
    command: { id: string; metadata: EventMetadata },
    decide: (state: S) => readonly E[],
  ): Promise<CommandOutcome<S, E>> {
    return await this.serialised(stream, () => this.run(stream, aggregate, command, decide));
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
    if (cached && trustCache) return { ...cached, fromCache: true };
    const from = cached ?? { state: aggregate.initial, revision: -1n };
    const events = await this.store.readStream(stream, { fromRevision: from.revision + 1n });
    let { state, revision } = from;
    for (const event of events) {
      state = aggregate.evolve(state, { type: event.type, data: event.data } as E);
      revision = event.revision;
    }
    this.cache.set(stream, { state, revision });
    return { state, revision, fromCache: false };
  }

  private async run<S, E extends DomainEvent>(
    stream: string,
    aggregate: Aggregate<S, E>,
    command: { id: string; metadata: EventMetadata },
    decide: (state: S) => readonly E[],
  ): Promise<CommandOutcome<S, E>> {
    const maxAttempts = this.options.maxAttempts ?? 20;
    for (let attempt = 1; ; attempt++) {
      const { state, revision, fromCache } = await this.load(stream, aggregate, attempt === 1);
      let decided: readonly E[];
      try {
        decided = decide(state);
      } catch (error) {
        // A refusal or a no-op decided on a cached state is only final once decided on a fresh one.
        if (fromCache) continue;
        throw error;
      }
      if (decided.length === 0) {
        if (fromCache) continue;
        return { events: [], state, revision, append: undefined };
      }
      const events: NewEvent[] = decided.map((e, i) => ({
        id: eventIdFor(command.id, i),
        type: e.type,
        data: e.data,
        metadata: command.metadata,
      }));
      try {
        const append = await this.store.append(stream, events, { expectedRevision: revision < 0n ? 'no_stream' : revision });
        let next = state;
        for (const e of decided) next = aggregate.evolve(next, e);
        if (!append.duplicate) this.cache.set(stream, { state: next, revision: append.nextRevision });
        else this.cache.delete(stream);
        return { events: decided, state: next, revision: append.nextRevision, append };
      } catch (error) {
        if (!(error instanceof WrongExpectedVersion) || attempt >= maxAttempts) throw error;
        // Another node wrote first: back off a little, with jitter, and decide again.
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(5 * attempt, 50)));
      }
    }
  }
}
