import type pg from 'pg';
import type { Namespace } from 'socket.io';
import { type PostgresAdapterOptions, createAdapter } from '@socket.io/postgres-adapter';
import { hasBinary } from '@socket.io/postgres-adapter/dist/util.js';
import type { Notifier } from '../db/notifier.ts';
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
 * @socket.io/postgres-adapter, changed in three ways:
 *
 * - A broadcast reaches this node's sockets at once, in the order the broadcasts were made.
 *   The cluster adapter delivers locally only after the NOTIFY for the other nodes has gone out
 *   through a pool — and a payload over 8,000 bytes takes an INSERT first — so a read mark sent
 *   after a long message could reach a socket before it, and every delivery waited for the
 *   database. (Other nodes still get each broadcast by NOTIFY; clients order messages by seq.)
 * - Once the adapter is closed nothing more is published: a presence count that finishes during
 *   shutdown would otherwise query the pool the gateway is ending.
 * - Messages go out through the node's notifier (src/db/notifier.ts): what one turn of the event
 *   loop publishes — and the event log's wake-up for the same append — is one statement, in
 *   order, not one query each. A broadcast (or a server-side emit wanting no answer) is not
 *   published at all while no other node is known (they announce themselves by heartbeat).
 *   Payloads too large for NOTIFY (or binary) still take the adapter's own attachment path.
 */
/** Several cluster messages in one NOTIFY: sent by nodes of an earlier version, still understood. */
const BATCH = 1_000;

export function createSupportAdapter(pool: pg.Pool, options: PostgresAdapterOptions, notifier: Notifier): ReturnType<typeof createAdapter> {
  const postgres = createAdapter(pool, options);
  const channelPrefix = options.channelPrefix ?? 'socket.io';
  const threshold = options.payloadThreshold ?? 8_000;
  // socket.io calls it with `new`: a function (not an arrow) whose returned object is the adapter
  return function supportAdapter(nsp: Namespace) {
    const adapter = postgres(nsp);
    const internals = adapter as unknown as ClusterInternals;
    const clusterBroadcast = internals.broadcast.bind(adapter);
    const doPublish = internals.doPublish.bind(adapter);
    const doPublishResponse = internals.doPublishResponse.bind(adapter);
    const close = internals.close.bind(adapter);
    const onMessage = internals.onMessage.bind(adapter);
    const channel = `${channelPrefix}#${nsp.name}`;
    let closed = false;

    function send(message: ClusterMessage): Promise<void> {
      const payload = JSON.stringify(message);
      if (Buffer.byteLength(payload) > threshold || hasBinary(message)) return doPublish(message).then(() => {});
      return notifier.notify(channel, payload).catch((error: unknown) => options.errorHandler?.(error as Error));
    }

    internals.broadcast = async (packet, opts) => {
      if (!opts.flags?.local) {
        // serialised now, sent with whatever else this turn of the event loop publishes
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
      void send(message);
      return Promise.resolve('');
    };
    internals.onMessage = (message, offset) => {
      if ((message.type as number) !== BATCH) return onMessage(message, offset);
      for (const inner of (message as unknown as { data: ClusterMessage[] }).data) onMessage(inner, offset);
    };
    internals.doPublishResponse = (requesterUid, response) => (closed ? Promise.resolve() : doPublishResponse(requesterUid, response));
    internals.close = () => {
      close(); // publishes ADAPTER_CLOSE: the other nodes stop waiting for this one
      closed = true;
    };
    return adapter;
  };
}
