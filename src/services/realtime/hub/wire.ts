import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

/**
 * An unmasked, final text frame (RFC 6455 §5.2) holding `data`. Server frames are never masked, so
 * the bytes are the same for every socket: a broadcast builds them once and writes the same Buffer to
 * each socket, where ws.send would encode the text and build a header per socket.
 */
export function textFrame(data: string): Buffer {
  const payload = Buffer.from(data, 'utf8');
  const n = payload.length;
  const header = n < 126 ? Buffer.from([0x81, n]) : n < 65_536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (n >= 126 && n < 65_536) {
    header[0] = 0x81;
    header[1] = 126;
    header.writeUInt16BE(n, 2);
  } else if (n >= 65_536) {
    header[0] = 0x81;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([header, payload]);
}

/**
 * ws's underlying net.Socket (`_socket`, stable in ws 8). Writing to it directly is safe here because
 * ws's sender only queues frames while compressing or reading a Blob, and this server does neither
 * (perMessageDeflate is off and only strings are sent).
 */
export const rawSocket = (ws: WebSocket) => (ws as unknown as { _socket?: Socket })._socket;
