/**
 * Import rules, checked by `npm run lint:imports` and by test/unit/import-rules.test.ts (so by
 * `npm test`).
 *
 * The product simulators are a program of their own: they may use helpers of the exporter (src/),
 * but the exporter never reaches into them, or simulator code would be compiled into dist/ and ship
 * in the npm package and the container image.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'exporter-imports-simulators',
      comment: 'src/ must not import from simulators/: the exporter ships without the simulators.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^simulators/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count too: they tie the two programs together just the same.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
