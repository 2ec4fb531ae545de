import { Counter, Gauge, type Registry } from 'prom-client';
import type { Hub } from './hub/hub.js';

export interface RealtimeMetrics {
  /** A socket was closed by the server with `code` (1006: cut without a closing handshake). */
  socketClosed(code: number): void;
  chatMessages: Counter<'outcome'>;
}

/** Socket and chat metrics of this instance. The connection gauge is read from the hub at scrape time. */
export function createRealtimeMetrics(registry: Registry, hub: () => Hub | null): RealtimeMetrics {
  new Gauge({
    name: 'streamplane_ws_connections',
    help: 'Open WebSocket connections on this instance, by kind (chat, captions).',
    labelNames: ['kind'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const counts = new Map<string, number>([['chat', 0], ['captions', 0]]);
      const h = hub();
      if (h) for (const room of h.roomNames()) {
        const kind = room.slice(0, room.indexOf(':'));
        counts.set(kind, (counts.get(kind) ?? 0) + h.count(room));
      }
      for (const [kind, n] of counts) this.set({ kind }, n);
    },
  });
  const closes = new Counter({ name: 'streamplane_ws_server_closes_total', help: 'Sockets closed by the server, by close code (4008 slow consumer, 4029 flood, 1006 dead peer cut…).', labelNames: ['code'] as const, registers: [registry] });
  return {
    socketClosed: (code) => closes.inc({ code: String(code) }),
    chatMessages: new Counter({ name: 'streamplane_chat_messages_total', help: 'Chat sends by outcome: stored, or the error code that refused them.', labelNames: ['outcome'] as const, registers: [registry] }),
  };
}
