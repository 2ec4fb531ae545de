import type { FastifyBaseLogger } from 'fastify';
import type { Registry } from 'prom-client';
import type { Config } from '../../config/config.js';
import type { Backends, Unsubscribe } from '../../core/ports/index.js';
import { RevocationRegistry } from './revocation.registry.js';
import { SigningKeyRing } from './signing-key.ring.js';
import { ViewerTokenVerifier } from './viewer-token.verifier.js';

/** The shared viewer-token machinery: one key ring, one revocation mirror and one verifier per process. */
export interface ViewerAuth {
  ring: SigningKeyRing;
  revocations: RevocationRegistry;
  verifier: ViewerTokenVerifier;
  close(): Promise<void>;
}

/**
 * Builds and starts the viewer-token machinery that the session service (which also mints and rotates)
 * and the realtime service (which only verifies) share when they run in one process. Loads the keys
 * there are; creating the first key is the session service's job.
 */
export async function startViewerAuth(backends: Backends, t: Config['tokens'], registry: Registry, log: FastifyBaseLogger): Promise<ViewerAuth> {
  const { database: db, bus, clock } = backends;
  const ring = new SigningKeyRing(db, bus, clock, log, { rotationSeconds: t.signingKeyRotationSeconds, maxTokenLifetimeSeconds: t.accessMaxTtlSeconds });
  const revocations = new RevocationRegistry(db, bus, clock, log, { syncMs: t.revocationSyncMs, maxTokenLifetimeSeconds: Math.max(t.accessMaxTtlSeconds, t.refreshTtlSeconds) });
  const verifier = new ViewerTokenVerifier(ring, revocations, clock, registry, { issuer: t.issuer, audience: t.audience, cacheMaxEntries: t.cacheMaxEntries });
  await ring.reload();
  await revocations.start();
  const unsubscribe: Unsubscribe = await bus.subscribe('signing_key.rotated', () => ring.reload().catch((err: unknown) => log.warn({ err }, 'signing key reload failed')));
  return {
    ring,
    revocations,
    verifier,
    async close() {
      await unsubscribe().catch(() => {});
      await revocations.stop();
    },
  };
}
