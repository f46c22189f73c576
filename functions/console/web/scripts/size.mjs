// Prints the gzipped size of the console's JavaScript and fails the build above the budget.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const BUDGET = 200 * 1024;
const dir = process.env.LATCHKEY_WEB_OUT ?? 'dist';
const walk = (d) => readdirSync(d, { withFileTypes: true }).flatMap((e) =>
  e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]);
const js = walk(dir).filter((f) => f.endsWith('.js'));
const total = js.reduce((sum, f) => sum + gzipSync(readFileSync(f), { level: 9 }).length, 0);
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
console.log(`console JavaScript: ${kb(total)} gzipped in ${js.length} file(s) (budget ${kb(BUDGET)})`);
if (total > BUDGET) {
  console.error('over the budget: see what grew with `npx vite build` and its report');
  process.exit(1);
}
