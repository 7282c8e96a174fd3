import { describe, expect, it } from 'vitest';
import {
  float16BitsToFloat32,
  float32ToFloat16Bits,
  fromFloat16Array,
  toFloat16Array,
} from '../../main/engine/float16';

// [float32 value, numpy np.float16(value).view(np.uint16)]
const NUMPY: Array<[number, number]> = [[125.73021697998047, 22492], [-132.1048583984375, 55329], [640.4226684570312, 24833], [104.90011596679688, 22158], [-535.6693725585938, 57391], [361.5950622558594, 23974], [1304.0, 25880], [947.0809936523438, 25446], [-703.7352294921875, 57727], [-1265.4215087890625, 58609], [-623.2744750976562, 57567], [41.32597732543945, 20778], [-2325.03076171875, 59531], [-218.79165649414062, 56022], [-1245.9110107421875, 58590], [-732.2673950195312, 57785], [-544.259033203125, 57409], [-316.3001403808594, 56561], [411.63055419921875, 24175], [1042.513427734375, 25619], [-1.285346570512047e-06, 32790], [1.3664634025190026e-05, 229], [-6.6519469328341074e-06, 32880], [3.5151006159139797e-06, 59], [9.034701179189142e-06, 152], [9.401229590366711e-07, 16], [-7.434992767230142e-06, 32893], [-9.217254046234302e-06, 32923], [-4.577258096105652e-06, 32845], [2.201951247116085e-06, 37], [65519.0, 31743], [65520.0, 31744], [65504.0, 31743], [9.99999993922529e-09, 0], [2.9800000689306216e-08, 0], [-2.9900000697580253e-08, 32769], [6.0999998822808266e-05, 1023], [6.0900001699337736e-05, 1022], [0.10000000149011612, 11878], [0.3333333432674408, 13653], [-0.0, 32768]];

describe('float16', () => {
  it('matches numpy float32→float16 rounding', () => {
    for (const [v, bits] of NUMPY) expect(float32ToFloat16Bits(v), String(v)).toBe(bits);
  });

  it('round-trips every finite half exactly', () => {
    for (let h = 0; h < 0x10000; h++) {
      const exp = (h >> 10) & 0x1f;
      if (exp === 0x1f && (h & 0x3ff) !== 0) continue; // NaN payloads
      expect(float32ToFloat16Bits(float16BitsToFloat32(h))).toBe(h);
    }
  });

  it('rounds exact midpoints to even, including into subnormals and overflow', () => {
    for (let h = 0; h < 0x7bff; h++) {
      const mid = (float16BitsToFloat32(h) + float16BitsToFloat32(h + 1)) / 2; // exact in float32
      const even = h % 2 === 0 ? h : h + 1;
      expect(float32ToFloat16Bits(mid)).toBe(even);
    }
    expect(float32ToFloat16Bits(65504)).toBe(0x7bff);
    expect(float32ToFloat16Bits(65519.99)).toBe(0x7bff);
    expect(float32ToFloat16Bits(65520)).toBe(0x7c00); // midpoint to "even" = Inf
    expect(float32ToFloat16Bits(2 ** -25)).toBe(0); // half of the smallest subnormal → 0 (even)
    expect(float32ToFloat16Bits(2 ** -25 * 1.0001)).toBe(1);
    expect(float32ToFloat16Bits(2 ** -24)).toBe(1);
  });

  it('handles signed zero, inf and nan', () => {
    expect(float32ToFloat16Bits(-0)).toBe(0x8000);
    expect(float32ToFloat16Bits(Infinity)).toBe(0x7c00);
    expect(float32ToFloat16Bits(-Infinity)).toBe(0xfc00);
    expect(float32ToFloat16Bits(1e10)).toBe(0x7c00);
    const nan = float32ToFloat16Bits(NaN);
    expect((nan & 0x7c00) === 0x7c00 && (nan & 0x3ff) !== 0).toBe(true);
    expect(Number.isNaN(float16BitsToFloat32(nan))).toBe(true);
    expect(float16BitsToFloat32(0xfc00)).toBe(-Infinity);
    expect(Object.is(float16BitsToFloat32(0x8000), -0)).toBe(true);
    expect(float16BitsToFloat32(0x0001)).toBe(2 ** -24);
    expect(float16BitsToFloat32(0x3c00)).toBe(1);
  });

  it('converts arrays, accepting Uint16Array or Float16Array-like input', () => {
    const src = new Float32Array([0, 1, -2.5, 0.1, 1e-6, 70000]);
    const bits = toFloat16Array(src);
    expect(bits).toBeInstanceOf(Uint16Array);
    const back = fromFloat16Array(bits);
    expect(Array.from(back)).toEqual([0, 1, -2.5, float16BitsToFloat32(0x2e66), float16BitsToFloat32(bits[4]), Infinity]);
    // A native Float16Array yields plain numbers on indexing; emulate with a Float32Array of the decoded values.
    expect(Array.from(fromFloat16Array(back))).toEqual(Array.from(back));
  });
});
