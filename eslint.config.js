import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.cache/**', 'charts/**', '**/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // The root of @palisade/crds builds every kind's schema and the ajv compiler at import,
    // ~15 MB a sidecar does not need (decision 0019): the sidecar takes values from /runtime.
    files: ['sidecar/src/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: '@palisade/crds',
              message: 'import values from @palisade/crds/runtime (decision 0019)',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
);
