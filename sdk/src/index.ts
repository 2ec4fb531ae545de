/**
 * @streamplane/sdk: the REST client, chat and captions over WebSocket, and the player telemetry beacon.
 * Runs in browsers and in Node ≥ 20 (pass `WebSocket` from the `ws` package to the socket clients in Node < 22).
 */
export { createStreamplaneClient, type RestClientOptions, type StreamplaneClient } from './rest.js';
export type { paths, components, operations } from './api-types.js';
export { ChatClient, type ChatClientOptions, type ChatDeleted, type ChatEvents, type ChatJoined, type ChatMessage, type ChatReset } from './chat.js';
export { CaptionsClient, type CaptionsClientOptions, type CaptionsEvents, type CaptionsJoined, type Cue, type CueInput } from './captions.js';
export { TelemetryBeacon, type TelemetryBeaconOptions, type TelemetryEventType, type TelemetryStats } from './telemetry.js';
export { StreamplaneError } from './errors.js';
export { Backoff, systemTimers, type BackoffOptions, type Timers } from './backoff.js';
export type { Closed, ConnectionOptions, ConnectionState, StateChange, TerminalReason, WebSocketConstructor, WebSocketLike } from './socket.js';
