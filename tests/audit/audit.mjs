// Run the graphql-http server audit (GraphQL-over-HTTP spec conformance) against a live server.
//
//   node tests/audit/audit.mjs <url> [--modules DIR] [--header NAME:VALUE ...]
//
// DIR holds node_modules/graphql-http (default: $GRAPHQL_HTTP_PREFIX, else .venv/audit, where
// scripts/test installs it). Prints one line per audit and a JSON summary as the last line;
// exits 1 when any MUST or SHOULD audit fails, 2 when the audit cannot run.
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

function parseArgs(argv) {
  const options = { url: undefined, modules: process.env.GRAPHQL_HTTP_PREFIX || '.venv/audit', headers: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--modules') {
      options.modules = argv[++i];
    } else if (arg === '--header') {
      const [name, ...value] = argv[++i].split(':');
      options.headers[name.trim().toLowerCase()] = value.join(':').trim();
    } else {
      options.url = arg;
    }
  }
  return options;
}

const options = parseArgs(process.argv.slice(2));
if (!options.url) {
  console.error('usage: node tests/audit/audit.mjs <url> [--modules DIR] [--header NAME:VALUE]');
  process.exit(2);
}

let auditServer;
try {
  // ESM ignores NODE_PATH, so resolve the package from the directory npm installed it into.
  const require = createRequire(resolve(options.modules, 'package.json'));
  ({ auditServer } = require('graphql-http'));
} catch (error) {
  console.error(`graphql-http is not installed under ${options.modules}: ${error.message}`);
  console.error(`install it with: npm install --prefix ${options.modules} graphql-http`);
  process.exit(2);
}

// Extra headers (e.g. a CSRF preflight header) go on every request the audit makes.
const fetchFn = (input, init = {}) =>
  fetch(input, { ...init, headers: { ...options.headers, ...(init.headers || {}) } });

const results = await auditServer({ url: options.url, fetchFn });
const level = (result) => result.name.split(' ')[0];
const counts = {};
const failures = [];
for (const result of results) {
  const key = `${level(result)} ${result.status === 'ok' ? 'ok' : 'failed'}`;
  counts[key] = (counts[key] || 0) + 1;
  let line = `${result.status === 'ok' ? 'ok  ' : 'FAIL'} ${result.id} ${result.name}`;
  if (result.status !== 'ok') {
    const body = await result.response.text().catch(() => '');
    line += `\n       ${result.reason} (got ${result.response.status}: ${body.slice(0, 200)})`;
    failures.push({ id: result.id, name: result.name, level: level(result), reason: result.reason });
  }
  console.log(line);
}
const blocking = failures.filter((f) => f.level === 'MUST' || f.level === 'SHOULD');
console.log(JSON.stringify({ counts, failures }));
process.exit(blocking.length ? 1 : 0);
