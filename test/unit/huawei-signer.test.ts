/**
 * The SDK-HMAC-SHA256 signer against the signatures Huawei's own SDKs assert in their tests, and
 * the round trip through the HTTP client to the simulators' gateway, which verifies with the same
 * canonicalisation.
 */
import http from 'node:http';
import { HttpClient } from '../../src/http/client';
import {
  akskAuth,
  canonicalQueryString,
  canonicalRequest,
  canonicalUri,
  formatSdkDate,
  parseSdkDate,
  signRequest,
  signedHeaderNames,
} from '../../src/http/huawei-signer';
import { parseAuthorization, verifyRequest } from '../../simulators/huawei-gateway';
import { scopeFor } from '../helpers/scope';
import { startServer } from '../helpers/servers';

/**
 * Published vectors. Each names its source; the requests are rebuilt exactly as those tests build
 * them (the expected Authorization values are copied from the tests' assertions).
 */
const SDK_VECTORS: Array<{ name: string; method: string; path: string; headers: Record<string, string>; body: string; expected: string }> = [
  {
    // huaweicloud/huaweicloud-sdk-python-v3, huaweicloud-sdk-core/tests/test_signer.py, test_signer1
    name: 'python-v3 test_signer1 (GET)',
    method: 'GET',
    path: '/resources?size=1',
    headers: { Host: 'service.endpoint.myhuaweicloud.com', 'X-Sdk-Date': '20200608T023900Z', TEST_UNDERSCORE: 'TEST_VALUE' },
    body: '',
    expected:
      'SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=host;x-sdk-date, Signature=cfb4171acec81de07d50e53d57eb77edd537414d66ddb1d7d780f128e12cd842',
  },
  {
    // huaweicloud/huaweicloud-sdk-python-v3, huaweicloud-sdk-core/tests/test_signer.py, test_signer2
    name: 'python-v3 test_signer2 (POST with a JSON body)',
    method: 'POST',
    path: '/resources?size=1',
    headers: { Host: 'service.endpoint.myhuaweicloud.com', 'X-Sdk-Date': '20200608T023900Z', TEST_UNDERSCORE: 'TEST_VALUE' },
    body: '{"name":"test","id":1}',
    expected:
      'SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=host;x-sdk-date, Signature=436b1ac0a1ae03705934bb70ef2f2e09f7bfed2117d731a38235053199323a1f',
  },
  {
    // huaweicloud/huaweicloud-sdk-go-v3, core/auth/signer/signer_test.go, TestSigner_Sign "test1".
    // The Go request builder has no Host parameter there, so only X-Sdk-Date is signed.
    name: 'go-v3 TestSigner_Sign test1 (GET)',
    method: 'GET',
    path: '/path?limit=1',
    headers: { 'X-Sdk-Date': '20060102T150405Z', TEST_UNDERSCORE: 'TEST_VALUE' },
    body: '',
    expected: 'SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, Signature=5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624',
  },
  {
    // huaweicloud/huaweicloud-sdk-go-v3, core/auth/signer/signer_test.go, TestSigner_Sign "test2".
    // Body: &TestBody{Name: "test", Id: 1} as Go's json.Encoder writes it (with its trailing newline).
    // That test also sets Content-Type, which the Go signer leaves out of SignedHeaders (the expected
    // value says SignedHeaders=x-sdk-date), so the headers signed here are the ones it signed.
    name: 'go-v3 TestSigner_Sign test2 (POST with a JSON body)',
    method: 'POST',
    path: '/path?key=value',
    headers: { 'X-Sdk-Date': '20060102T150405Z', TEST_UNDERSCORE: 'TEST_VALUE' },
    body: '{"Name":"test","Id":1}\n',
    expected: 'SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, Signature=cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59',
  },
];

describe('SDK-HMAC-SHA256: vectors from the Huawei Cloud SDKs', () => {
  test.each(SDK_VECTORS)('$name', ({ method, path, headers, body, expected }) => {
    expect(signRequest({ method, path, headers, body }, 'AccessKey', 'SecretKey').authorization).toBe(expected);
  });

  test('canonical query string (go-v3 signer_test.go TestSigner_canonicalQueryString, python-v3 test_signer.py test_process_canonical_query_string)', () => {
    const query = new URLSearchParams([
      ['limit', '1'],
      ['enable', 'true'],
      ['test', '一 (&=?!#%.*)'],
      ['path', '/tmp/123'],
      ['multi', '1'],
      ['multi', '2'],
      ['multi', '3'],
    ]).toString();
    expect(canonicalQueryString(query)).toBe(
      'enable=true&limit=1&multi=1&multi=2&multi=3&path=%2Ftmp%2F123&test=%E4%B8%80%20%28%26%3D%3F%21%23%25.%2A%29',
    );
  });
});

describe('SDK-HMAC-SHA256: the documented steps', () => {
  test('the canonical URI always ends with "/" and keeps only unreserved characters', () => {
    expect(canonicalUri('/v3/4229d7a45436489f8c3dc2b1d35d4987/operation-logs')).toBe('/v3/4229d7a45436489f8c3dc2b1d35d4987/operation-logs/');
    expect(canonicalUri('/v3/p/backups/')).toBe('/v3/p/backups/');
    expect(canonicalUri('')).toBe('/');
    expect(canonicalUri('/a%20b/c*d~e')).toBe('/a%20b/c%2Ad~e/');
  });

  test('headers with "_" and Authorization are not signed; names are lower-cased and sorted', () => {
    expect(signedHeaderNames({ 'X-Sdk-Date': 'd', Host: 'h', X_Custom: 'x', Authorization: 'a', Accept: 'j' })).toEqual(['accept', 'host', 'x-sdk-date']);
  });

  test('the canonical request has the six parts, a blank line after the headers, and the body hash', () => {
    const canonical = canonicalRequest(
      { method: 'get', path: '/v3/p/backups?offset=1000&limit=1000', headers: { Host: 'cbr.example.com', 'X-Sdk-Date': '20240102T030405Z' } },
      ['host', 'x-sdk-date'],
    );
    expect(canonical).toBe(
      'GET\n/v3/p/backups/\nlimit=1000&offset=1000\nhost:cbr.example.com\nx-sdk-date:20240102T030405Z\n\nhost;x-sdk-date\n' +
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  test('X-Sdk-Date is yyyyMMddTHHmmssZ in UTC', () => {
    expect(formatSdkDate(Date.UTC(2006, 0, 2, 15, 4, 5, 999))).toBe('20060102T150405Z');
    expect(parseSdkDate('20060102T150405Z')).toBe(Date.UTC(2006, 0, 2, 15, 4, 5));
    expect(parseSdkDate('20060230T150405Z')).toBeUndefined();
    expect(parseSdkDate('2006-01-02T15:04:05Z')).toBeUndefined();
  });

  test('the Authorization header parses back', () => {
    const signed = signRequest({ method: 'GET', path: '/x', headers: { 'X-Sdk-Date': '20240101T000000Z', Host: 'h' } }, 'AK1', 'SK1');
    expect(parseAuthorization(signed.authorization)).toEqual({ accessKey: 'AK1', signedHeaders: ['host', 'x-sdk-date'], signature: signed.signature });
    expect(parseAuthorization('Bearer x')).toBeUndefined();
    expect(parseAuthorization('SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host, Signature=xyz')).toBeUndefined();
  });
});

describe('SDK-HMAC-SHA256: verification', () => {
  const NOW = Date.UTC(2024, 5, 1, 12, 0, 0);
  const secretFor = (ak: string) => (ak === 'AK1' ? 'SK1' : undefined);
  function signed(body = '{"a":1}', date = formatSdkDate(NOW)) {
    const headers = { host: 'cbr.example.com', 'x-sdk-date': date, 'content-type': 'application/json' };
    const { authorization } = signRequest({ method: 'POST', path: '/v3/p/checkpoints?x=1', headers, body }, 'AK1', 'SK1');
    return { method: 'POST', path: '/v3/p/checkpoints?x=1', headers: { ...headers, authorization }, body: Buffer.from(body) };
  }

  test('accepts what was signed', () => {
    expect(verifyRequest(signed(), secretFor, NOW)).toEqual({ ok: true, accessKey: 'AK1' });
  });

  test('refuses a changed byte of the body, the path, the query or a signed header', () => {
    const good = signed();
    const body = Buffer.from(good.body);
    body[body.length - 2] ^= 1;
    expect(verifyRequest({ ...good, body }, secretFor, NOW)).toMatchObject({ ok: false, reason: 'signature_mismatch' });
    expect(verifyRequest({ ...good, path: '/v3/p/checkpoints?x=2' }, secretFor, NOW)).toMatchObject({ ok: false, reason: 'signature_mismatch' });
    expect(verifyRequest({ ...good, path: '/v3/q/checkpoints?x=1' }, secretFor, NOW)).toMatchObject({ ok: false, reason: 'signature_mismatch' });
    expect(verifyRequest({ ...good, headers: { ...good.headers, host: 'evil.example.com' } }, secretFor, NOW)).toMatchObject({ ok: false, reason: 'signature_mismatch' });
  });

  test('refuses an X-Sdk-Date more than 15 minutes off, an unknown access key, and malformed headers', () => {
    expect(verifyRequest(signed(), secretFor, NOW + 16 * 60_000)).toMatchObject({ ok: false, reason: 'expired', sdkDate: formatSdkDate(NOW) });
    expect(verifyRequest(signed(), secretFor, NOW + 14 * 60_000)).toMatchObject({ ok: true });
    expect(verifyRequest(signed(), () => undefined, NOW)).toMatchObject({ ok: false, reason: 'unknown_access_key', accessKey: 'AK1' });
    const { authorization: _, ...unsigned } = signed().headers;
    expect(verifyRequest({ ...signed(), headers: unsigned }, secretFor, NOW)).toMatchObject({ ok: false, reason: 'missing' });
    expect(verifyRequest({ ...signed(), headers: { ...unsigned, authorization: 'SDK-HMAC-SHA256 nonsense' } }, secretFor, NOW)).toMatchObject({
      ok: false,
      reason: 'malformed',
    });
  });
});

describe('akskAuth through the HTTP client', () => {
  test('what the client sends verifies (host from the target URL, every header, the exact body); another secret does not', async () => {
    const seen: Array<{ ok: boolean; reason?: string }> = [];
    const server = await startServer((req: http.IncomingMessage, res: http.ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const verdict = verifyRequest(
          { method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks) },
          (ak) => (ak === 'AK1' ? 'SK1' : undefined),
          Date.now(),
        );
        seen.push(verdict.ok ? { ok: true } : { ok: false, reason: verdict.reason });
        res.writeHead(verdict.ok ? 200 : 401, { 'content-type': 'application/json' }).end('{}');
      });
    });
    const scope = scopeFor(5000);
    const clients: HttpClient[] = [];
    try {
      const client = (sk: string) => {
        const c = new HttpClient({ baseUrl: `${server.url}/base`, maxConcurrency: 2, auth: akskAuth({ accessKey: 'AK1', secretKey: sk, baseUrl: server.url }) });
        clients.push(c);
        return c;
      };
      const good = client('SK1');
      await good.request({ path: '/v3/p/operation-logs', query: { operation_type: 'backup', start_time: '2024-01-01T00:00:00Z', limit: 1000 } }, scope);
      await good.request(
        { method: 'POST', path: '/v3/p/checkpoints', headers: { 'content-type': 'application/json', X_Trace_Id: 'not-signed' }, body: '{"name":"ü"}' },
        scope,
      );
      await expect(client('wrong').request({ path: '/v3/p/backups' }, scope)).rejects.toMatchObject({ reason: 'auth' });
      expect(seen).toEqual([{ ok: true }, { ok: true }, { ok: false, reason: 'signature_mismatch' }]);
    } finally {
      scope.done();
      await Promise.all(clients.map((c) => c.close()));
      await server.close();
    }
  });
});
