import { defineConfig } from 'vitest/config';

/** End-to-end suites: real processes (npm start, later nginx-rtmp, ffmpeg, Chromium), one file at a time. */
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    pool: 'forks',
    poolOptions: { forks: { singleFork: true } },
    testTimeout: 300_000,
    hookTimeout: 120_000,
  },
});
