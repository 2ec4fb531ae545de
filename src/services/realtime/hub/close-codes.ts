/** The close codes of docs/protocol.md: what a client should do is decided by the code alone. */
export const CLOSE = {
  normal: 1000,
  unsupportedData: 1003,
  serviceRestart: 1012,
  tryAgainLater: 1013,
  tokenInvalid: 4001,
  banned: 4003,
  sessionEnded: 4004,
  slowConsumer: 4008,
  flood: 4029,
} as const;
export type CloseCode = (typeof CLOSE)[keyof typeof CLOSE];
