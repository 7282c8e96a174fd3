import { describe, expect, it } from 'vitest';
import type { IncomingMessage } from 'node:http';
import { checkAccess, cookieValue, isLoopbackHost, parseCookies, parseRequestUrl, resolveToken } from '../../main/server/auth';

function req(headers: Record<string, string>): IncomingMessage {
  return { headers } as unknown as IncomingMessage;
}

describe('server access policy', () => {
  it('knows loopback hosts', () => {
    for (const h of ['127.0.0.1', 'localhost', '::1', '[::1]', '127.1.2.3']) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['0.0.0.0', '192.168.1.2', 'example.com', '::']) expect(isLoopbackHost(h)).toBe(false);
  });

  it('requires a token off loopback, generating one when absent', () => {
    expect(resolveToken('127.0.0.1', undefined)).toEqual({ token: null, generated: false });
    const g = resolveToken('0.0.0.0', undefined);
    expect(g.generated).toBe(true);
    expect(g.token).toMatch(/^[0-9a-f]{48}$/);
    expect(resolveToken('0.0.0.0', 'supersecret')).toEqual({ token: 'supersecret', generated: false });
    expect(() => resolveToken('0.0.0.0', 'short')).toThrow(/at least 8/);
  });

  it('checks tokens from header, query or cookie', () => {
    const url = new URL('http://h/');
    const host = { host: '10.0.0.5:7860' };
    expect(checkAccess(req(host), url, 'tok-12345', '0.0.0.0')).toMatchObject({ ok: false, status: 401 });
    expect(checkAccess(req({ ...host, authorization: 'Bearer tok-12345' }), url, 'tok-12345', '0.0.0.0')).toEqual({ ok: true, setCookie: false });
    expect(checkAccess(req(host), new URL('http://h/?token=tok-12345'), 'tok-12345', '0.0.0.0')).toEqual({ ok: true, setCookie: true });
    expect(checkAccess(req({ ...host, cookie: 'a=b; atelier_token=tok-12345' }), url, 'tok-12345', '0.0.0.0')).toEqual({ ok: true, setCookie: false });
    expect(checkAccess(req({ ...host, cookie: 'atelier_token=wrong-token' }), url, 'tok-12345', '0.0.0.0')).toMatchObject({ ok: false, status: 401 });
  });

  it('blocks DNS rebinding and cross-origin pages on a loopback server', () => {
    const url = new URL('http://h/');
    expect(checkAccess(req({ host: '127.0.0.1:7860' }), url, null, '127.0.0.1')).toEqual({ ok: true, setCookie: false });
    expect(checkAccess(req({ host: 'evil.example:7860' }), url, null, '127.0.0.1')).toMatchObject({ ok: false, status: 403 });
    expect(checkAccess(req({ host: '127.0.0.1:7860', origin: 'http://evil.example' }), url, null, '127.0.0.1')).toMatchObject({ ok: false, status: 403 });
    expect(checkAccess(req({ host: '127.0.0.1:7860', origin: 'http://127.0.0.1:7860' }), url, null, '127.0.0.1')).toEqual({ ok: true, setCookie: false });
  });

  it('parses cookies without decoding anyone else\'s', () => {
    expect({ ...parseCookies('a=1; b = two%20words; c=%zz') }).toEqual({ a: '1', b: 'two%20words', c: '%zz' });
    expect({ ...parseCookies(undefined) }).toEqual({});
    expect(cookieValue('b=two%20words', 'b')).toBe('two words');
    expect(cookieValue('b=%zz', 'b')).toBeNull();
    expect(cookieValue('a=1', 'b')).toBeNull();
    expect(cookieValue('__proto__=1', 'toString')).toBeNull();
  });

  it('refuses opaque and foreign origins, accepts its own', () => {
    const url = new URL('http://h/');
    const host = { host: '127.0.0.1:7860' };
    for (const origin of ['null', 'file://', 'chrome-extension://abcdef', 'http://127.0.0.1:7861', 'not a url', '']) {
      expect(checkAccess(req({ ...host, origin }), url, null, '127.0.0.1'), origin).toMatchObject({ ok: false, status: 403 });
    }
    expect(checkAccess(req({ ...host, origin: 'http://127.0.0.1:7860' }), url, null, '127.0.0.1')).toEqual({ ok: true, setCookie: false });
    expect(checkAccess(req({ ...host, 'sec-fetch-site': 'cross-site' }), url, null, '127.0.0.1')).toMatchObject({ ok: false, status: 403 });
    expect(checkAccess(req({ ...host, 'sec-fetch-site': 'same-origin' }), url, null, '127.0.0.1')).toEqual({ ok: true, setCookie: false });
  });

  it('parses request targets without throwing', () => {
    for (const t of ['//', '///', '//:', '//a:b@', 'http://[', '']) expect(() => parseRequestUrl(t)).not.toThrow();
    expect(parseRequestUrl('//')?.pathname).toBe('//');
    expect(parseRequestUrl('/api/ws?token=x')?.searchParams.get('token')).toBe('x');
    expect(parseRequestUrl('http://[')).toBeNull();
  });
});
