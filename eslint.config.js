// Lint rules: the recommended sets, plus the few that protect the protocol contract
// (no floating promises in hosts, no non-determinism sneaking into protocols).
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['node_modules/**', 'results/**', 'docs/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // The HTML view's page script runs in the browser, inlined into each report (viz/html.ts).
    files: ['viz/**/*.js'],
    languageOptions: { sourceType: 'script', globals: { document: 'readonly', window: 'readonly' } },
  },
  {
    // Protocols are pure deterministic state machines: time and randomness come in as inputs.
    files: ['protocols/**/*.ts'],
    rules: {
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'Protocols use logical ticks, never wall-clock time.' },
        { object: 'Math', property: 'random', message: 'Protocols use the seeded ctx.rng.' },
      ],
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'setImmediate', 'performance'],
    },
  },
)
