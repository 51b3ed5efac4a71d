// Lint rules: typescript-eslint's type-aware recommended set, plus the house rules of STYLE.md
// that a machine can check (no `any`, no floating promises, no import cycles by folder).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The library (every folder of src/ but cli/ and tools/) never imports the CLI or the tools (bench,
// local stack, producer, demo): src/index.ts must not reach them. test/unit/structure/library-graph.test.ts
// checks the same on the whole import graph.
const libraryBoundary = {
  regex: '^\\.{1,2}/(.*/)?(tools|cli)(/|$)',
  message: 'the library does not import src/tools or src/cli; they import the library',
};

// The Kafka client is imported in src/source alone: everything else sees Kafka through its interfaces
// (group consumer, partition transactions, changelog reader, side-topic writer, producers, admin).
const kafkaClient = {
  group: ['kafkajs', 'kafkajs/*'],
  message: 'Kafka is reached through src/source (the client is imported there alone)',
};

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.sluice/', 'coverage/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true, allowNullish: true },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**', 'src/tools/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [libraryBoundary, kafkaClient] }] },
  },
  {
    // Kafka is behind source/'s interfaces; the CLI uses them too. (The tools may use kafkajs itself:
    // the bench measures a bare kafkajs consumer, the local stack probes its broker.)
    files: ['src/cli/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [kafkaClient] }] },
  },
  {
    files: ['src/source/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [libraryBoundary] }] },
  },
  {
    // Pure modules take time and records as arguments: no I/O clients, no clock. (The rule's options
    // replace those of the block above for these files, so the library boundary is repeated.)
    // windows/ imports nothing from state/: the packed store implements windows' WindowStore.
    files: ['src/windows/**/*.ts', 'src/runtime/offset-tracker.ts', 'src/state/packed-window-store.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'kafkajs',
                '@clickhouse/*',
                'node:*',
                '../ops/*',
                '../sinks/*',
                '../source/*',
                '../state/*',
              ],
            },
            libraryBoundary,
          ],
        },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'pure code takes time as an argument' },
      ],
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
