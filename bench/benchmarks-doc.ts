/**
 * docs/BENCHMARKS.md holds one `## …` section per benchmark; each run replaces only its own
 * section (appending it the first time), so benchmarks run at different times keep their results.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCHMARKS_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'BENCHMARKS.md');

/** `section` must start with `heading` (e.g. "## Engine"). Returns the file written. */
export function writeBenchmarkSection(heading: string, section: string, file = BENCHMARKS_FILE): string {
  if (!section.startsWith(heading)) throw new Error(`section must start with "${heading}"`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let doc = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const escaped = heading.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const start = doc.search(new RegExp(`^${escaped}\\s*$`, 'm'));
  if (start >= 0) {
    const rest = doc.slice(start + heading.length);
    const next = rest.search(/^## /m);
    doc = doc.slice(0, start) + section + (next >= 0 ? '\n' + rest.slice(next) : '');
  } else {
    doc = doc.replace(/\s*$/, '\n\n') + section;
  }
  fs.writeFileSync(file, doc);
  return file;
}
