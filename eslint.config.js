// Lint rules: typescript-eslint's type-aware recommended set, plus the house rules of STYLE.md
// that a machine can check (no `any`, no floating promises, no import cycles by folder).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
    // Pure modules take time and records as arguments: no I/O clients, no clock. windows/ imports
    // nothing from state/: the packed store implements windows' WindowStore (state -> windows).
    files: ['src/windows/**/*.ts', 'src/runtime/offset-tracker.ts', 'src/state/packed-window-store.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            'kafkajs',
            '@clickhouse/*',
            'node:*',
            '../ops/*',
            '../sinks/*',
            '../source/*',
            '../state/*',
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
