import type pg from 'pg';
import type { Namespace } from 'socket.io';
import { type PostgresAdapterOptions, createAdapter } from '@socket.io/postgres-adapter';
import { type BroadcastOptions, type ClusterMessage, MessageType } from 'socket.io-adapter';

/** What this module uses of the cluster adapter beyond its public type. */
interface ClusterInternals {
  readonly uid: string;
  readonly nodesMap: Map<string, number>;
  onMessage(message: ClusterMessage, offset?: string): void;
  broadcast(packet: unknown, opts: BroadcastOptions): Promise<void>;
  publish(message: { type: MessageType; data?: unknown }): void;
  doPublish(message: ClusterMessage): Promise<string>;
  doPublishResponse(requesterUid: string, response: unknown): Promise<void>;
  close(): void;
}

/**
 * @socket.io/postgres-adapter, changed in two ways:
 *
 * - A broadcast reaches this node's sockets at once, in the order the broadcasts were made.
 *   The cluster adapter delivers locally only after the NOTIFY for the other nodes has gone out
 *   through a pool — and a payload over 8,000 bytes takes an INSERT first — so a read mark sent
 *   after a long message could reach a socket before it, and every delivery waited for the
 *   database. (Other nodes still get each broadcast by NOTIFY; clients order messages by seq.)
 * - Once the adapter is closed nothing more is published: a presence count that finishes during
 *   shutdown would otherwise query the pool the gateway is ending.
 * - What one turn of the event loop publishes goes out as one NOTIFY (a batch the other nodes
 *   unpack in order), not one query each: at 200 messages a second the pool no longer queues
 *   hundreds of round trips, which is where delivery to other nodes fell behind. A broadcast (or
 *   a server-side emit wanting no answer) is not published at all while no other node is known
 *   (they announce themselves by heartbeat).
 */
/** A message type of our own, past socket.io-adapter's: several cluster messages in one NOTIFY. */
const BATCH = 1_000;
/** NOTIFY payloads over 8,000 bytes take a table round trip: batches stay small. */
const BATCH_SIZE = 16;

export function createSupportAdapter(pool: pg.Pool, options: PostgresAdapterOptions): ReturnType<typeof createAdapter> {
  const postgres = createAdapter(pool, options);
  // socket.io calls it with `new`: a function (not an arrow) whose returned object is the adapter
  return function supportAdapter(nsp: Namespace) {
    const adapter = postgres(nsp);
    const internals = adapter as unknown as ClusterInternals;
    const clusterBroadcast = internals.broadcast.bind(adapter);
    const doPublish = internals.doPublish.bind(adapter);
    const doPublishResponse = internals.doPublishResponse.bind(adapter);
    const close = internals.close.bind(adapter);
    const onMessage = internals.onMessage.bind(adapter);
    let closed = false;
    let pending: ClusterMessage[] = [];

    function flush(): void {
      const batch = pending;
      pending = [];
      for (let i = 0; i < batch.length; i += BATCH_SIZE) {
        const part = batch.slice(i, i + BATCH_SIZE);
        const message = part.length === 1 ? part[0]! : ({ uid: internals.uid, nsp: nsp.name, type: BATCH, data: part } as unknown as ClusterMessage);
        void doPublish(message).catch(() => {});
      }
    }

    internals.broadcast = async (packet, opts) => {
      if (!opts.flags?.local) {
        // serialised now, sent when the pool gets to it
        internals.publish({ type: MessageType.BROADCAST, data: { packet, opts: { rooms: [...opts.rooms], except: [...(opts.except ?? [])], flags: opts.flags } } });
      }
      // `local`: the cluster adapter hands it to this node's sockets without awaiting anything
      await clusterBroadcast(packet, { ...opts, flags: { ...opts.flags, local: true } });
    };
    internals.doPublish = (message) => {
      if (closed) return Promise.resolve('');
      // nobody to hear a broadcast or a server-side emit that wants no answer: nothing to send
      const oneWay = message.type === MessageType.BROADCAST || (message.type === MessageType.SERVER_SIDE_EMIT && !(message.data as { requestId?: string }).requestId);
      if (oneWay && internals.nodesMap.size === 0) return Promise.resolve('');
      pending.push(message);
      if (pending.length === 1) setImmediate(flush);
      return Promise.resolve('');
    };
    internals.onMessage = (message, offset) => {
      if ((message.type as number) !== BATCH) return onMessage(message, offset);
      for (const inner of (message as unknown as { data: ClusterMessage[] }).data) onMessage(inner, offset);
    };
    internals.doPublishResponse = (requesterUid, response) => (closed ? Promise.resolve() : doPublishResponse(requesterUid, response));
    internals.close = () => {
      close(); // publishes ADAPTER_CLOSE: the other nodes stop waiting for this one
      flush(); // now, before the gateway ends the pool
      closed = true;
    };
    return adapter;
  };
}
