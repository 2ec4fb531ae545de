import { createServer } from 'node:http';
import { WebSocketServer, type RawData } from 'ws';

/**
 * Peer of chat_fanout and ws_memory: the bare `ws` broadcast server, the limit of what a Node.js
 * WebSocket fan-out can do. On a text message from any client it sends that same Buffer to every
 * connected client (the sender included), serialized once: no parsing, no JSON, no storage, no auth.
 * Run as its own process: `node --import tsx bench/peers/ws-broadcast.ts` with PORT and HOST.
 * `GET /health` answers 200 (how the bench knows it is up); the socket is on any other path.
 */
const server = createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    return;
  }
  res.writeHead(426).end();
});

const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 16_384 });
wss.on('connection', (socket) => {
  socket.on('message', (data: RawData, isBinary: boolean) => {
    for (const client of wss.clients) client.send(data, { binary: isBinary });
  });
  // A client that vanishes must not take the process down.
  socket.on('error', () => {});
});

const close = () => {
  for (const client of wss.clients) client.terminate();
  wss.close();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2_000).unref();
};
process.once('SIGTERM', close);
process.once('SIGINT', close);

server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1');
