import js from "@eslint/js";
import tseslint from "typescript-eslint";

const BARE_ASSERT =
  "assert.ok/assert needs a message that prints what was compared, or use assert.equal/deepEqual/match: " +
  "under the tsx loader a bare failing assert.ok tries to print its source expression and can hang until the test timeout instead of failing.";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "data/**", ".tmp/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["test/**/*.ts"],
    rules: {
      "no-restricted-syntax": [
        "error",
        {
          selector: "CallExpression[callee.object.name='assert'][callee.property.name='ok'][arguments.length<2]",
          message: BARE_ASSERT,
        },
        {
          selector: "CallExpression[callee.type='Identifier'][callee.name='assert'][arguments.length<2]",
          message: BARE_ASSERT,
        },
      ],
    },
  },
);
