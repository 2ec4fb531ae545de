/**
 * The dependency rules of DESIGN.md, enforced in `npm run lint` (and so in CI). Type-only imports of
 * config are allowed everywhere (they vanish at runtime); value imports are what the rules guard.
 */
module.exports = {
  forbidden: [
    {
      name: 'core-imports-nothing',
      comment: 'core/ holds ports, ids, events and errors: it depends on nothing in the repo.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^src/', pathNot: '^src/core/' },
    },
    {
      name: 'vendor-sdks-only-in-backends',
      comment: 'pg, PGlite and ioredis are implementation details of the backends.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/backends/' },
      to: { path: 'node_modules/(pg|pg-pool|@electric-sql/pglite|ioredis)/' },
    },
    {
      name: 'only-entry-points-import-backends',
      comment: 'Services receive backends as plugin options; only main.ts files create them.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/backends/', '^src/main\\.ts$', '^src/services/[^/]+/main\\.ts$', '^src/cli/'] },
      to: { path: '^src/backends/' },
    },
    {
      name: 'only-entry-points-import-config',
      comment: 'Config is read once by the entry points and handed down; type-only imports are fine.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/config/', '^src/main\\.ts$', '^src/services/[^/]+/main\\.ts$', '^src/cli/'] },
      to: { path: '^src/config/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'services-are-independent',
      comment: 'A service never imports another service: they talk through the Bus and HTTP.',
      severity: 'error',
      from: { path: '^src/services/([^/]+)/' },
      to: { path: '^src/services/', pathNot: ['^src/services/$1/', '^src/main\\.ts$'] },
    },
    {
      name: 'services-do-not-import-entry-points',
      severity: 'error',
      from: { path: '^src/services/', pathNot: '^src/services/[^/]+/main\\.ts$' },
      to: { path: '^src/main\\.ts$' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true, dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js'] },
  },
};
