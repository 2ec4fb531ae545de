import { createServer } from 'node:http';
import { Server } from 'socket.io';

/**
 * Peer of chat_fanout: Socket.IO 4 broadcasting to a room, the usual way a Node.js chat is built.
 * Every client joins one room on connection; on a 'msg' event the server does
 * `io.to(room).emit('msg', payload)` (the sender is in the room too). Socket.IO encodes the packet once
 * per broadcast. Defaults otherwise (websocket and polling allowed; the bench's clients use websocket).
 * Run as its own process: `node --import tsx bench/peers/socketio-room.ts` with PORT and HOST.
 */
const ROOM = 'bench';

const server = createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    return;
  }
  res.writeHead(404).end();
});

const io = new Server(server, { serveClient: false });
io.on('connection', (socket) => {
  void socket.join(ROOM);
  socket.on('msg', (payload: unknown) => {
    io.to(ROOM).emit('msg', payload);
  });
});

const close = () => {
  io.close();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2_000).unref();
};
process.once('SIGTERM', close);
process.once('SIGINT', close);

server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1');
