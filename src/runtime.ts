import v8 from 'node:v8';

/**
 * The server's garbage-collector setting: how far the old generation may grow past what the last
 * full collection kept before the next one starts, in percent (`GC_HEAP_GROWING_PERCENT`, default
 * 100; V8's own choice here is about 10 %).
 *
 * A node keeps about 120 MB alive for 1,000 live-support sockets and promotes about a megabyte a
 * second. At V8's choice that was a full (mark-compact) collection every 8–12 s on each node,
 * and in bench:support every one of them was a second of delivery p99 at 70–200 ms: the whole
 * tail. At 100 % the heap may reach twice what it keeps before collecting — that much more
 * memory, for a full collection every few minutes instead. 0 leaves it to V8.
 *
 * Applied with `v8.setFlagsFromString` at start (Node refuses the flag in NODE_OPTIONS); V8 reads
 * it at every collection.
 */
export function tuneGarbageCollector(heapGrowingPercent: number): void {
  if (!Number.isInteger(heapGrowingPercent) || heapGrowingPercent < 0) throw new Error(`the heap growing percent is a whole number ≥ 0, not ${heapGrowingPercent}`);
  if (heapGrowingPercent > 0) v8.setFlagsFromString(`--heap-growing-percent=${heapGrowingPercent}`);
}
