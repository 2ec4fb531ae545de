import type { NodeRow } from './node.repository.js';

/** The application name of an ingest URL (rtmp://host:1935/live → live). */
export function applicationOf(ingestUrl: string): string {
  const path = ingestUrl.replace(/^[a-z]+:\/\/[^/]+/, '').replace(/^\/+|\/+$/g, '');
  return path.split('/')[0] || 'live';
}

/**
 * A ready nginx-rtmp `application` block for `node`: every callback it sends points at this node's
 * hook URLs. `notify_update_timeout` decides how often a live stream is re-authorized: a kick without
 * control_url takes up to that long, and each update is a request this service must answer (a missed
 * answer drops the stream), so 10 s is a middle ground; see docs/media-servers/nginx-rtmp.md.
 */
export function renderNginxApplication(node: NodeRow, hooks: Record<string, string>, updateIntervalSeconds: number): string {
  const app = applicationOf(node.ingest_url);
  const line = (directive: string, hook: string) => (hooks[hook] ? [`        ${directive} ${hooks[hook]};`] : []);
  return [
    `    # Streamplane ingest node ${node.name} (${node.id}), region ${node.region}.`,
    '    # The callback URLs carry this node\'s secret: keep this file private.',
    `    application ${app} {`,
    '        live on;',
    '        record off;',
    '        # A publisher that stops sending is dropped, so its key can publish again at once.',
    '        drop_idle_publisher 10s;',
    '        notify_method post;',
    ...line('on_publish', 'on_publish'),
    ...line('on_publish_done', 'on_publish_done'),
    ...line('on_play', 'on_play'),
    ...line('on_play_done', 'on_play_done'),
    ...line('on_done', 'on_done'),
    ...line('on_update', 'on_update'),
    `        notify_update_timeout ${updateIntervalSeconds}s;`,
    '    }',
    '',
  ].join('\n');
}
