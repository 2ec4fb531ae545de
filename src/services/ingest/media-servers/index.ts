import type { MediaServerAdapter, MediaServerKind } from '../../../core/ports/media-server.js';
import { mediaMtxAdapter } from './mediamtx/mediamtx.adapter.js';
import { nginxRtmpAdapter } from './nginx-rtmp/nginx-rtmp.adapter.js';
import { omeAdapter } from './ome/ome.adapter.js';
import { srsAdapter } from './srs/srs.adapter.js';

/** One adapter per media server kind; the Record type makes a missing kind a compile error. */
export const ADAPTERS: Readonly<Record<MediaServerKind, MediaServerAdapter>> = Object.freeze({
  'nginx-rtmp': nginxRtmpAdapter,
  srs: srsAdapter,
  ome: omeAdapter,
  mediamtx: mediaMtxAdapter,
});

export function adapterFor(kind: MediaServerKind): MediaServerAdapter {
  // Kinds come from the database and configuration at runtime; never fall through to Object.prototype.
  if (!Object.hasOwn(ADAPTERS, kind)) throw new TypeError(`unknown media server kind: ${String(kind)}`);
  return ADAPTERS[kind];
}
