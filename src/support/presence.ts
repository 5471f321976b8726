import type { SupportNamespace } from './channel.ts';

export interface Presence {
  /** distinct agents connected to any node (cached for 2 s) */
  agentsOnline(): Promise<number>;
  /** an agent came or went here: recount soon and tell everyone */
  announce(): void;
  /** recount; tell everyone only if it changed (a node may have died without saying so) */
  refresh(): void;
  stop(): void;
}

const CACHE_MS = 2_000;

/**
 * Agent presence across nodes: each node answers with the subs of its own agents (a short list
 * of numbers, where `fetchSockets` would ship every agent socket's handshake and rooms through
 * the database); the node that counts tells the others, so they need not ask.
 */
export function createPresence(nsp: SupportNamespace): Presence {
  let cached: { value: number; at: number } | undefined;
  let counting: Promise<number> | undefined;
  let timer: NodeJS.Timeout | undefined;
  // Closing disconnects every socket, and each agent's disconnect would announce: not after stop.
  let stopped = false;

  const localAgents = () => new Set([...nsp.sockets.values()].filter((s) => s.data.agent).map((s) => s.data.sub));

  nsp.on('support:agents', (ack) => {
    if (typeof ack === 'function') ack([...localAgents()]);
  });

  function count(): Promise<number> {
    counting ??= (async () => {
      const subs = localAgents();
      let answers: unknown[];
      try {
        answers = await nsp.serverSideEmitWithAck('support:agents');
      } catch (error) {
        // a node did not answer in time: count those that did
        answers = (error as { responses?: unknown[] }).responses ?? [];
      }
      for (const theirs of answers) if (Array.isArray(theirs)) for (const sub of theirs) if (Number.isInteger(sub)) subs.add(sub as number);
      return subs.size;
    })().then((value) => {
      cached = { value, at: Date.now() };
      counting = undefined;
      return value;
    });
    return counting;
  }

  function tellEveryone(agentsOnline: number): void {
    nsp.emit('support:presence', { agentsOnline });
    nsp.serverSideEmit('support:presence', agentsOnline);
  }

  nsp.on('support:presence', (agentsOnline: number) => {
    if (Number.isInteger(agentsOnline)) cached = { value: agentsOnline, at: Date.now() };
  });

  return {
    async agentsOnline() {
      if (cached && Date.now() - cached.at < CACHE_MS) return cached.value;
      return await count();
    },
    announce() {
      clearTimeout(timer);
      if (stopped) return;
      // A burst of connections (a node restarting) is counted once.
      timer = setTimeout(() => {
        cached = undefined;
        void count().then(tellEveryone);
      }, 100);
    },
    refresh() {
      if (!cached || stopped) return;
      const before = cached.value;
      void count().then((value) => {
        if (value !== before) tellEveryone(value);
      });
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
