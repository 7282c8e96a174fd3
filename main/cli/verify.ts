/**
 * `atelier verify <image…>`: the content credentials (C2PA) of each file, checked with the official
 * c2pa-rs reader — valid / invalid / absent, who signed, what it claims, its parents. Exit 1 when
 * any file's credentials are invalid (tampered or damaged), else 0.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultUserDataDir } from '../app/paths';
import { Provenance, type Credentials } from '../provenance';
import type { CliIo } from './generate';

export const VERIFY_USAGE = `atelier verify <image…> [--json] [--home DIR]`;

function describe(file: string, c: Credentials): string {
  const lines = [`${file}: ${c.state}`];
  if (c.signer) lines.push(`  signed by: ${c.signer.commonName ?? '?'}${c.signer.issuer ? ` (${c.signer.issuer})` : ''}${c.signer.ownCertificate ? ' — this installation' : ''}${c.untrusted ? ', certificate not on a trust list' : ''}`);
  if (c.generator) lines.push(`  generator: ${c.generator}`);
  if (c.state !== 'absent' && c.state !== 'unknown') lines.push(`  AI-generated: ${c.aiGenerated ? 'yes' : 'not declared'}${c.digitalSourceType ? ` (${c.digitalSourceType.split('/').pop()})` : ''}`);
  if (c.actions.length) lines.push(`  actions: ${c.actions.join(', ')}`);
  if (c.model) lines.push(`  model: ${c.model.id ?? '?'}${c.model.hash ? ` (hash ${c.model.hash.slice(0, 10)})` : ''}`);
  if (c.parameters) {
    const p = c.parameters;
    lines.push(`  parameters: ${['prompt', 'seed', 'scheduler', 'steps', 'cfg', 'width', 'height'].filter((k) => p[k] !== undefined).map((k) => `${k} ${JSON.stringify(p[k])}`).join(', ')}`);
  } else if (c.disclosure === 'ai-only') lines.push('  parameters: not disclosed (the project discloses only the fact of AI generation)');
  for (const [i, link] of c.chain.entries()) {
    lines.push(`  parent ${i + 1}: ${link.title ?? '(untitled)'} — ${link.state}${link.generator ? `, ${link.generator}` : ''}${link.actions.length ? `, ${link.actions.join(', ')}` : ''}${link.problems.length ? ` (${link.problems.join('; ')})` : ''}`);
  }
  for (const p of c.problems) lines.push(`  problem: ${p}`);
  for (const w of c.warnings) lines.push(`  note: ${w}`);
  return lines.join('\n');
}

export async function runVerify(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { json: { type: 'boolean', default: false }, home: { type: 'string' }, help: { type: 'boolean', default: false } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.stdout.write(`${VERIFY_USAGE}\n`);
    return 0;
  }
  if (!positionals.length) throw new Error(`verify needs at least one image\n${VERIFY_USAGE}`);
  const provenance = new Provenance(values.home ?? defaultUserDataDir());
  const results: Array<{ file: string; error?: string } & Partial<Credentials>> = [];
  let invalid = false;
  for (const arg of positionals) {
    const file = resolve(arg);
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (err) {
      invalid = true;
      results.push({ file, error: `cannot read: ${(err as Error).message}` });
      if (!values.json) io.stdout.write(`${file}: cannot read (${(err as Error).message})\n`);
      continue;
    }
    const c = await provenance.verify(bytes);
    if (c.state === 'invalid') invalid = true;
    results.push({ file, ...c });
    if (!values.json) io.stdout.write(`${describe(file, c)}\n`);
  }
  if (values.json) io.stdout.write(`${JSON.stringify(results.length === 1 ? results[0] : results)}\n`);
  return invalid ? 1 : 0;
}
