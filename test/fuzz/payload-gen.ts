/**
 * Random API payloads from each method's zod schema (through its JSON Schema, `z.toJSONSchema`):
 * mostly shaped like the schema (so the implementation behind validation is reached), then mutated
 * (a wrong type, a missing or unknown key, boundary numbers, hostile strings, deep nesting,
 * prototype keys) so validation itself is fuzzed too.
 */
import { z } from 'zod';
import type { Rng } from './fuzz-kit';

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  pattern?: string;
  additionalProperties?: boolean | JsonSchema;
  default?: unknown;
};

export function jsonSchemaOf(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
}

const WORDS = ['a', 'cat', 'atelier-demo', 'sd15', '01HXYZABC', 'My Project', 'é🙂', '', ' ', '..', '../..', '%00', '\u0000', '<script>', 'null', '-1', 'true', 'x'.repeat(300), 't.1.ABC', 's.1'];
const HOSTILE: unknown[] = [null, true, false, 0, -0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.MAX_SAFE_INTEGER + 2, 1e308, -1e308, '', 'x'.repeat(5000), '\u0000', '__proto__', [], {}, [[[[[]]]]], { __proto__: { polluted: true } }, JSON.parse('{"__proto__":{"polluted":true}}'), { constructor: { prototype: { polluted: true } } }, { toString: 'x' }, { valueOf: () => 1 }];

export function randomString(rng: Rng, s: JsonSchema): string {
  const min = s.minLength ?? 0;
  const max = Math.min(s.maxLength ?? 40, 60);
  let out = rng.bool(0.6) ? rng.pick(WORDS) : rng.stringFrom(['a', 'b', '1', '-', '_', ' ', '.', '/', 'é', ':'], rng.int(min, Math.max(min, max)));
  if (out.length < min) out = out.padEnd(min, 'a');
  if (s.maxLength !== undefined && out.length > s.maxLength) out = out.slice(0, s.maxLength);
  return out;
}

function randomNumber(rng: Rng, s: JsonSchema, integer: boolean): number {
  const lo = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + (integer ? 1 : 1e-6) : -1000);
  const hi = s.maximum ?? (s.exclusiveMaximum !== undefined ? s.exclusiveMaximum - (integer ? 1 : 1e-6) : 1000);
  const edge = rng.int(0, 5);
  let v = edge === 0 ? lo : edge === 1 ? hi : lo + rng.next() * (hi - lo);
  if (integer) v = Math.round(v);
  return Math.min(hi, Math.max(lo, v));
}

/** A value that satisfies `s` as far as the generator understands it (refinements may still refuse it). */
export function shaped(rng: Rng, s: JsonSchema, depth = 0): unknown {
  if (s.const !== undefined) return s.const;
  if (s.enum) return rng.pick(s.enum);
  const alts = s.anyOf ?? s.oneOf;
  if (alts?.length) return shaped(rng, rng.pick(alts), depth + 1);
  if (s.allOf?.length) return shaped(rng, s.allOf[0], depth + 1);
  const type = Array.isArray(s.type) ? rng.pick(s.type) : s.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [key, prop] of Object.entries(s.properties ?? {})) {
        const required = s.required?.includes(key) ?? false;
        if (required || rng.bool(0.5)) out[key] = shaped(rng, prop, depth + 1);
      }
      return out;
    }
    case 'array': {
      const min = s.minItems ?? 0;
      const max = Math.min(s.maxItems ?? 4, depth > 3 ? min : 4);
      const n = rng.int(min, Math.max(min, max));
      return Array.from({ length: n }, () => shaped(rng, s.items ?? {}, depth + 1));
    }
    case 'string':
      return randomString(rng, s);
    case 'integer':
      return randomNumber(rng, s, true);
    case 'number':
      return randomNumber(rng, s, false);
    case 'boolean':
      return rng.bool();
    case 'null':
      return null;
    default:
      // {} (anything): a small random JSON value
      return rng.pick([undefined, null, 1, 'x', {}, []]);
  }
}

/** One random corruption somewhere inside `value`. */
export function mutated(rng: Rng, value: unknown): unknown {
  if (rng.bool(0.15)) return rng.pick(HOSTILE);
  if (value === null || typeof value !== 'object') return rng.bool(0.5) ? rng.pick(HOSTILE) : value;
  const copy: Record<string, unknown> | unknown[] = Array.isArray(value) ? [...value] : { ...(value as Record<string, unknown>) };
  const keys = Object.keys(copy);
  switch (rng.int(0, 5)) {
    case 0:
      if (keys.length) delete (copy as Record<string, unknown>)[rng.pick(keys)];
      return copy;
    case 1:
      // An own key, as JSON.parse makes even "__proto__" (an assignment would change the prototype instead).
      Object.defineProperty(copy, rng.pick(['extra', '__proto__', 'constructor', 'prototype', 'toString', '0']), { value: rng.pick(HOSTILE), enumerable: true, writable: true, configurable: true });
      return copy;
    case 2:
      if (keys.length) {
        const k = rng.pick(keys);
        (copy as Record<string, unknown>)[k] = mutated(rng, (copy as Record<string, unknown>)[k]);
      }
      return copy;
    case 3: {
      let deep: unknown = copy;
      for (let i = rng.int(10, 2000); i > 0; i--) deep = rng.bool() ? [deep] : { a: deep };
      return deep;
    }
    case 4:
      return Array.isArray(copy) ? Object.fromEntries(copy.map((v, i) => [i, v])) : Object.values(copy);
    default:
      if (keys.length) (copy as Record<string, unknown>)[rng.pick(keys)] = rng.pick(HOSTILE);
      return copy;
  }
}
