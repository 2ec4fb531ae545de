// Standalone entry of the realtime service (one container per service): the same process as
// src/main.ts with only this service enabled.
import { run } from '../../main.js';

await run({ STREAMPLANE_SERVICES: 'realtime' });
