import { type EventStore, WrongExpectedVersion } from '../eventstore/port.ts';
import type { Metrics } from './metrics.ts';

/**
 * The event store with its appends timed and their conflicts counted. A wrapper, so either
 * adapter (and a future batching one) is measured the same way, at the port.
 */
export function instrumentEventStore(store: EventStore, metrics: Metrics): EventStore {
  if (!metrics.enabled) return store;
  return {
    kind: store.kind,
    appendReports: store.appendReports,
    async append(stream, events, options) {
      const started = performance.now();
      try {
        const result = await store.append(stream, events, options);
        metrics.eventStoreAppend((performance.now() - started) / 1000, result.duplicate ? 'duplicate' : 'ok');
        return result;
      } catch (error) {
        metrics.eventStoreAppend((performance.now() - started) / 1000, error instanceof WrongExpectedVersion ? 'conflict' : 'error');
        throw error;
      }
    },
    readStream: (stream, options) => store.readStream(stream, options),
    readAll: (from, limit) => store.readAll(from, limit),
    subscribeAll: (from, handlers) => store.subscribeAll(from, handlers),
    headPosition: () => store.headPosition(),
    close: () => store.close(),
  };
}
