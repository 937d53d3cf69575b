'use strict';

// ESLint flat config. client.js is the served artefact: ES5 in script
// mode, so that it runs unchanged in every browser. Tests and this file
// are modern Node.js.
const js = require('@eslint/js');

module.exports = [
  js.configs.recommended,
  {
    files: ['clientjs/client.js'],
    languageOptions: {
      ecmaVersion: 5,
      sourceType: 'script',
      globals: {
        self: 'readonly', window: 'readonly', globalThis: 'readonly', module: 'writable',
        Uint8Array: 'readonly', ArrayBuffer: 'readonly', Reflect: 'readonly'
      }
    },
    rules: {
      strict: ['error', 'function'],
      'no-var': 'off',
      eqeqeq: 'error',
      'no-implicit-globals': 'error',
      'no-unused-vars': ['error', {caughtErrors: 'none'}],
      'no-restricted-globals': ['error', 'Promise', 'fetch', 'TextEncoder', 'TextDecoder',
        'EventSource', 'XMLHttpRequest', 'WebSocket', 'Blob', 'FileReader', 'setTimeout',
        'clearTimeout', 'location', 'sessionStorage', 'URL', 'DOMException']
    }
  },
  {
    files: ['clientjs/test/**/*.js', 'eslint.config.js'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'commonjs',
      globals: {
        require: 'readonly', module: 'writable', __dirname: 'readonly', process: 'readonly',
        setTimeout: 'readonly', clearTimeout: 'readonly', console: 'readonly', globalThis: 'readonly',
        Blob: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', Buffer: 'readonly',
        EventTarget: 'readonly', Event: 'readonly', MessageEvent: 'readonly', DOMException: 'readonly',
        URL: 'readonly', Uint8Array: 'readonly', ArrayBuffer: 'readonly', Promise: 'readonly',
        setImmediate: 'readonly', WebSocket: 'readonly', DataView: 'readonly'
      }
    }
  }
];
