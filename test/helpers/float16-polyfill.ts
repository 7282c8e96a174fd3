/**
 * A minimal Float16Array polyfill built the way the published ones are (e.g. @petamoriken/float16):
 * a class whose instances are Proxies over a Uint16Array of raw bits, so indexing yields numbers.
 * Like those, an instance is NOT a real typed array (ArrayBuffer.isView is false, N-API sees a plain
 * object) — the case onnxruntime-node's binding cannot read, which ort-backend must work around.
 */
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../main/engine/float16';

const BITS = Symbol('bits');

function wrap(bits: Uint16Array): Float16ArrayPolyfill {
  const target = Object.create(Float16ArrayPolyfill.prototype) as Float16ArrayPolyfill & { [BITS]: Uint16Array };
  target[BITS] = bits;
  return new Proxy(target, {
    get(t, key, receiver) {
      if (typeof key === 'string' && /^\d+$/.test(key)) {
        const i = Number(key);
        return i < bits.length ? float16BitsToFloat32(bits[i]) : undefined;
      }
      switch (key) {
        case 'length':
          return bits.length;
        case 'buffer':
          return bits.buffer;
        case 'byteOffset':
          return bits.byteOffset;
        case 'byteLength':
          return bits.byteLength;
        case Symbol.iterator:
          return function* () {
            for (let i = 0; i < bits.length; i++) yield float16BitsToFloat32(bits[i]);
          };
        default:
          return Reflect.get(t, key, receiver);
      }
    },
    set(t, key, value, receiver) {
      if (typeof key === 'string' && /^\d+$/.test(key)) {
        bits[Number(key)] = float32ToFloat16Bits(Number(value));
        return true;
      }
      return Reflect.set(t, key, value, receiver);
    },
    has(t, key) {
      if (typeof key === 'string' && /^\d+$/.test(key)) return Number(key) < bits.length;
      return Reflect.has(t, key);
    },
  });
}

export class Float16ArrayPolyfill {
  static readonly BYTES_PER_ELEMENT = 2;
  declare readonly length: number;
  [index: number]: number;

  constructor(arg: number | ArrayBufferLike | ArrayLike<number>, byteOffset = 0, length?: number) {
    if (typeof arg === 'number') return wrap(new Uint16Array(arg));
    if (arg instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && arg instanceof SharedArrayBuffer)) {
      return wrap(new Uint16Array(arg, byteOffset, length ?? (arg.byteLength - byteOffset) / 2));
    }
    const src = arg as ArrayLike<number>;
    return wrap(Uint16Array.from({ length: src.length }, (_, i) => float32ToFloat16Bits(Number(src[i]))));
  }

  static from(src: ArrayLike<number>): Float16ArrayPolyfill {
    return new Float16ArrayPolyfill(src);
  }

  static [Symbol.hasInstance](x: unknown): boolean {
    return typeof x === 'object' && x !== null && BITS in (x as object);
  }
}

/** Install the polyfill as globalThis.Float16Array (before onnxruntime-common makes its first tensor). */
export function installFloat16ArrayPolyfill(): void {
  if ((globalThis as { Float16Array?: unknown }).Float16Array) throw new Error('this runtime already has a Float16Array');
  Object.defineProperty(globalThis, 'Float16Array', { value: Float16ArrayPolyfill, configurable: true, writable: true });
}
