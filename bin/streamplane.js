#!/usr/bin/env node
// The published entry point: plain JS so it runs without a build step. tsx compiles src/ on the fly,
// with the package's own tsconfig (not whatever the caller's cwd holds).
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
const { main } = await import(new URL('../src/cli/main.ts', import.meta.url).href);
process.exitCode = await main(process.argv);
