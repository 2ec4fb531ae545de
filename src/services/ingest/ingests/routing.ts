/** What routing knows of a node when an ingest starts. */
export interface Candidate {
  id: string;
  region: string;
  machine: string;
  status: 'active' | 'draining';
  health: 'up' | 'down' | 'unknown';
  capacity: number;
  load: number;
}

export type RouteResult =
  | { ok: true; primary: Candidate; backup: Candidate | null }
  | { ok: false; reason: 'no_node' | 'no_backup_node'; detail: string };

/**
 * Picks a primary and (when redundant) a backup on another machine. Order: nodes in the asked region
 * first, then nodes whose health is known to be up before unknown ones, then least loaded relative to
 * capacity, then fewest streams, then id (deterministic). Drained, down and full nodes are skipped.
 */
export function route(nodes: Candidate[], opts: { region?: string; redundant: boolean }): RouteResult {
  const eligible = nodes.filter((n) => n.status === 'active' && n.health !== 'down' && n.load < n.capacity);
  const rank = (n: Candidate) => [opts.region && n.region !== opts.region ? 1 : 0, n.health === 'up' ? 0 : 1, n.load / n.capacity, n.load];
  const sorted = [...eligible].sort((a, b) => {
    const ra = rank(a);
    const rb = rank(b);
    for (let i = 0; i < ra.length; i++) if (ra[i] !== rb[i]) return ra[i]! - rb[i]!;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
  const primary = sorted[0];
  if (!primary) {
    const why = nodes.length === 0 ? 'no ingest node is registered' : `none of the ${nodes.length} registered nodes is active, healthy and below capacity`;
    return { ok: false, reason: 'no_node', detail: `No ingest node can take this stream: ${why}.` };
  }
  if (!opts.redundant) return { ok: true, primary, backup: null };
  const backup = sorted.find((n) => n.machine !== primary.machine);
  if (!backup) {
    return { ok: false, reason: 'no_backup_node', detail: `A redundant ingest needs a healthy node on a machine other than ${primary.machine}; none is available.` };
  }
  return { ok: true, primary, backup };
}
