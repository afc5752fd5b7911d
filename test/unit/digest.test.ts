import { createHash } from 'node:crypto';
import { formatDigestChallenge, parseDigestAuthorization, verifyDigestAuthorization } from '../../simulators/digest-server';
import { computeDigestResponse, DigestAlgorithm, DigestSession, formatNonceCount, parseDigestChallenge } from '../../src/http/digest';

// RFC 7616 section 3.9.1 ("Example with SHA-256 and MD5").
const RFC7616 = {
  username: 'Mufasa',
  password: 'Circle of Life',
  realm: 'http-auth@example.org',
  method: 'GET',
  uri: '/dir/index.html',
  qop: 'auth' as const,
  nc: 1,
  cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
  nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
  opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS',
};

// RFC 2617 section 3.5 ("Example").
const RFC2617 = {
  username: 'Mufasa',
  password: 'Circle Of Life',
  realm: 'testrealm@host.com',
  nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
  opaque: '5ccc069c403ebaf9f0171e9517f40e41',
  uri: '/dir/index.html',
  qop: 'auth' as const,
  nc: 1,
  cnonce: '0a4f113b',
  method: 'GET',
};

// The challenge as MongoDB Ops Manager sends it.
const OPS_MANAGER =
  'Digest realm="MMS Public API", domain="", nonce="zN8mOb0x+gAaFSGXjQTflW6XtXmX3Jv1", algorithm=MD5, qop="auth", stale=false';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

describe('computeDigestResponse', () => {
  it.each([
    ['RFC 7616 3.9.1, MD5', { ...RFC7616, algorithm: 'MD5' }, '8ca523f5e9506fed4657c9700eebdbec'],
    [
      'RFC 7616 3.9.1, SHA-256',
      { ...RFC7616, algorithm: 'SHA-256' },
      '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
    ],
    ['RFC 2617 3.5, MD5', { ...RFC2617, algorithm: 'MD5' }, '6629fae49393a05397450978507c4ef1'],
  ] as const)('%s', (_name, input, expected) => {
    expect(computeDigestResponse({ ...input })).toBe(expected);
  });

  it('without qop uses the RFC 2069 form H(HA1:nonce:HA2)', () => {
    const ha1 = md5('Mufasa:testrealm@host.com:CircleOfLife');
    const ha2 = md5('GET:/dir/index.html');
    expect(
      computeDigestResponse({
        algorithm: 'MD5',
        username: 'Mufasa',
        password: 'CircleOfLife',
        realm: 'testrealm@host.com',
        nonce: RFC2617.nonce,
        method: 'GET',
        uri: '/dir/index.html',
      }),
    ).toBe(md5(`${ha1}:${RFC2617.nonce}:${ha2}`));
  });

  it('-sess folds nonce and cnonce into HA1 (RFC 7616 section 3.4.2)', () => {
    const ha1 = md5(`${md5('Mufasa:testrealm@host.com:Circle Of Life')}:${RFC2617.nonce}:${RFC2617.cnonce}`);
    const ha2 = md5('GET:/dir/index.html');
    expect(computeDigestResponse({ ...RFC2617, algorithm: 'MD5-sess' })).toBe(
      md5(`${ha1}:${RFC2617.nonce}:00000001:${RFC2617.cnonce}:auth:${ha2}`),
    );
  });

  it('refuses qop=auth without nc or cnonce', () => {
    expect(() => computeDigestResponse({ ...RFC2617, algorithm: 'MD5', nc: undefined })).toThrow(/nc/);
    expect(() => computeDigestResponse({ ...RFC2617, algorithm: 'MD5', cnonce: undefined })).toThrow(/cnonce/);
  });

  it.each([
    [1, '00000001'],
    [255, '000000ff'],
    [0xffffffff, 'ffffffff'],
  ])('formats nc %d as %s', (nc, hex) => {
    expect(formatNonceCount(nc)).toBe(hex);
  });

  it.each([0, -1, 1.5, 0x100000000])('rejects nc %d', (nc) => {
    expect(() => formatNonceCount(nc)).toThrow(RangeError);
  });
});

describe('parseDigestChallenge', () => {
  it('parses the Ops Manager challenge', () => {
    expect(parseDigestChallenge(OPS_MANAGER)).toEqual({
      realm: 'MMS Public API',
      domain: '',
      nonce: 'zN8mOb0x+gAaFSGXjQTflW6XtXmX3Jv1',
      algorithm: 'MD5',
      qop: ['auth'],
      stale: false,
      userhash: false,
    });
  });

  it('prefers SHA-256 among the RFC 7616 section 3.9.1 challenges (one header field each)', () => {
    const fields = ['SHA-256', 'MD5'].map(
      (alg) =>
        `Digest\r\n    realm="http-auth@example.org",\r\n    qop="auth, auth-int",\r\n    algorithm=${alg},\r\n` +
        `    nonce="${RFC7616.nonce}",\r\n    opaque="${RFC7616.opaque}"`,
    );
    for (const header of [fields, [...fields].reverse(), fields.join(', ')]) {
      expect(parseDigestChallenge(header)).toEqual({
        realm: RFC7616.realm,
        nonce: RFC7616.nonce,
        opaque: RFC7616.opaque,
        algorithm: 'SHA-256',
        qop: ['auth', 'auth-int'],
        stale: false,
        userhash: false,
      });
    }
  });

  it.each<[string, string | string[] | undefined, Partial<ReturnType<typeof parseDigestChallenge>> | undefined]>([
    ['undefined header', undefined, undefined],
    ['empty header', '', undefined],
    ['Basic only', 'Basic realm="x"', undefined],
    ['Basic before Digest', 'Basic realm="basic", Digest realm="d", nonce="n"', { realm: 'd', nonce: 'n' }],
    ['Bearer token68 before Digest', 'Bearer abc+/def==, Digest realm="d", nonce="n"', { realm: 'd', nonce: 'n' }],
    ['Digest before Basic', 'Digest realm="d", nonce="n", Basic realm="basic"', { realm: 'd', nonce: 'n' }],
    ['parameterless scheme before Digest', 'Negotiate, Digest realm="d", nonce="n"', { realm: 'd', nonce: 'n' }],
    ['quoted commas', 'Digest realm="a, b, c", nonce="n,1", qop="auth,auth-int"', { realm: 'a, b, c', nonce: 'n,1', qop: ['auth', 'auth-int'] }],
    ['escaped quotes', String.raw`Digest realm="say \"hi\", \\o/", nonce="n"`, { realm: 'say "hi", \\o/' }],
    ['case-insensitive names and algorithm', 'DIGEST REALM="d", Nonce="n", ALGORITHM=sha-256, Stale=TRUE, QOP="Auth"', { algorithm: 'SHA-256', stale: true, qop: ['auth'] }],
    ['unquoted values and whitespace around =', 'Digest realm = d , nonce = abc/def== , algorithm = MD5-sess', { realm: 'd', nonce: 'abc/def==', algorithm: 'MD5-sess' }],
    ['absent algorithm means MD5', 'Digest realm="d", nonce="n"', { algorithm: 'MD5', qop: [] }],
    ['unsupported algorithm skipped', 'Digest realm="d", nonce="n1", algorithm=SHA-512-256, Digest realm="d", nonce="n2", algorithm=MD5', { nonce: 'n2', algorithm: 'MD5' }],
    ['only unsupported algorithm', 'Digest realm="d", nonce="n", algorithm=SHA-512-256', undefined],
    ['auth-int only is unusable', 'Digest realm="d", nonce="n", qop="auth-int"', undefined],
    ['missing nonce', 'Digest realm="d"', undefined],
    ['missing realm', 'Digest nonce="n"', undefined],
    ['SHA-256-sess beats MD5', 'Digest realm="d", nonce="n1", algorithm=MD5, Digest realm="d", nonce="n2", algorithm=SHA-256-sess', { nonce: 'n2', algorithm: 'SHA-256-sess' }],
    ['first of equal strength wins', 'Digest realm="d", nonce="n1", algorithm=MD5-sess, Digest realm="d", nonce="n2", algorithm=MD5', { nonce: 'n1' }],
    ['array of field values', ['Basic realm="x"', 'Digest realm="d", nonce="n", userhash=true, charset=UTF-8'], { userhash: true, charset: 'UTF-8' }],
    ['duplicate parameter: first wins', 'Digest realm="d", nonce="n1", nonce="n2"', { nonce: 'n1' }],
    ['junk after a quoted value is skipped', 'Digest realm="d"junk, nonce="n"', { realm: 'd', nonce: 'n' }],
  ])('%s', (_name, header, expected) => {
    const parsed = parseDigestChallenge(header);
    if (expected === undefined) expect(parsed).toBeUndefined();
    else expect(parsed).toMatchObject(expected);
  });
});

describe('formatDigestChallenge', () => {
  it('formats the Ops Manager challenge and parses back', () => {
    const header = formatDigestChallenge({
      realm: 'MMS Public API',
      domain: '',
      nonce: 'zN8mOb0x+gAaFSGXjQTflW6XtXmX3Jv1',
      algorithm: 'MD5',
      qop: ['auth'],
      stale: false,
    });
    expect(header).toBe(OPS_MANAGER);
  });

  it('quotes escapes and round-trips', () => {
    const c = { realm: 'a "b", \\c', nonce: 'n', opaque: 'o"', algorithm: 'SHA-256' as const, qop: ['auth', 'auth-int'], stale: true };
    expect(formatDigestChallenge(c)).toBe(
      String.raw`Digest realm="a \"b\", \\c", nonce="n", opaque="o\"", algorithm=SHA-256, qop="auth, auth-int", stale=true`,
    );
    expect(parseDigestChallenge(formatDigestChallenge(c))).toMatchObject(c);
  });

  it('refuses header-splitting characters', () => {
    expect(() => formatDigestChallenge({ realm: 'a\r\nSet-Cookie: x', nonce: 'n', algorithm: 'MD5' })).toThrow(TypeError);
  });
});

describe('DigestSession', () => {
  const fixedCnonce = (...values: string[]) => {
    let i = 0;
    return () => values[i++ % values.length]!;
  };
  const challenge = (nonce: string, extra = '') =>
    `Digest realm="r", nonce="${nonce}", algorithm=MD5, qop="auth"${extra}`;
  const param = (header: string | undefined, name: string) => parseDigestAuthorization(header)?.[name];

  it('produces the RFC 2617 section 3.5 Authorization header', () => {
    const session = new DigestSession(RFC2617.username, RFC2617.password, { cnonce: () => RFC2617.cnonce });
    expect(session.authorize('GET', '/dir/index.html')).toBeUndefined();
    expect(
      session.onChallenge(
        `Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="${RFC2617.nonce}", opaque="${RFC2617.opaque}"`,
      ),
    ).toBe('retry');
    expect(session.authorize('GET', '/dir/index.html')).toBe(
      `Digest username="Mufasa", realm="testrealm@host.com", nonce="${RFC2617.nonce}", uri="/dir/index.html", ` +
        `algorithm=MD5, response="6629fae49393a05397450978507c4ef1", qop=auth, nc=00000001, cnonce="0a4f113b", ` +
        `opaque="${RFC2617.opaque}"`,
    );
  });

  it('answers the RFC 7616 section 3.9.1 challenges with SHA-256', () => {
    const session = new DigestSession(RFC7616.username, RFC7616.password, { cnonce: () => RFC7616.cnonce });
    const common = `realm="${RFC7616.realm}", qop="auth, auth-int", nonce="${RFC7616.nonce}", opaque="${RFC7616.opaque}"`;
    session.onChallenge([`Digest ${common}, algorithm=MD5`, `Digest ${common}, algorithm=SHA-256`]);
    const params = parseDigestAuthorization(session.authorize('GET', RFC7616.uri));
    expect(params).toEqual({
      username: 'Mufasa',
      realm: RFC7616.realm,
      nonce: RFC7616.nonce,
      uri: RFC7616.uri,
      algorithm: 'SHA-256',
      response: '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
      qop: 'auth',
      nc: '00000001',
      cnonce: RFC7616.cnonce,
      opaque: RFC7616.opaque,
    });
  });

  it('counts nonce uses and restarts at 00000001 for a new nonce', () => {
    const session = new DigestSession('u', 'p', { cnonce: fixedCnonce('c1', 'c2', 'c3', 'c4') });
    session.onChallenge(challenge('n1'));
    const first = session.authorize('GET', '/a');
    const second = session.authorize('GET', '/b');
    expect([param(first, 'nc'), param(second, 'nc')]).toEqual(['00000001', '00000002']);
    expect([param(first, 'cnonce'), param(second, 'cnonce')]).toEqual(['c1', 'c2']);
    expect(session.onChallenge(challenge('n2'))).toBe('retry');
    const third = session.authorize('GET', '/c');
    expect([param(third, 'nonce'), param(third, 'nc')]).toEqual(['n2', '00000001']);
  });

  it('makes a fresh random cnonce per request by default', () => {
    const session = new DigestSession('u', 'p');
    session.onChallenge(challenge('n1'));
    const a = param(session.authorize('GET', '/'), 'cnonce');
    const b = param(session.authorize('GET', '/'), 'cnonce');
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(b).not.toBe(a);
  });

  it('retries with the new nonce after stale=true', () => {
    const session = new DigestSession('u', 'p');
    session.onChallenge(challenge('n1'));
    session.authorize('GET', '/');
    session.authorize('GET', '/');
    expect(session.onChallenge(challenge('n2', ', stale=true'))).toBe('retry');
    const header = session.authorize('GET', '/');
    expect([param(header, 'nonce'), param(header, 'nc')]).toEqual(['n2', '00000001']);
  });

  it('fails when the challenge it just answered is repeated without stale=true', () => {
    const session = new DigestSession('u', 'wrong');
    expect(session.onChallenge(challenge('n1'))).toBe('retry');
    session.authorize('GET', '/');
    expect(session.onChallenge(challenge('n1'))).toBe('fail');
    expect(session.onChallenge(challenge('n1', ', stale=false'))).toBe('fail');
  });

  it('retries when the server answers with a different challenge', () => {
    const session = new DigestSession('u', 'p');
    session.onChallenge(challenge('n1'));
    session.authorize('GET', '/');
    expect(session.onChallenge(challenge('n2'))).toBe('retry');
    session.authorize('GET', '/');
    expect(session.onChallenge(challenge('n2'))).toBe('fail');
  });

  it('retries on any challenge while it has not answered one yet', () => {
    const session = new DigestSession('u', 'p');
    expect(session.onChallenge(challenge('n1'))).toBe('retry');
    expect(session.onChallenge(challenge('n1'))).toBe('retry');
  });

  it.each([undefined, 'Basic realm="x"', 'Digest realm="d", nonce="n", algorithm=SHA-512-256'])(
    'fails without a supported Digest challenge: %s',
    (header) => {
      expect(new DigestSession('u', 'p').onChallenge(header)).toBe('fail');
    },
  );

  it('speaks RFC 2069 to a server that offers no qop', () => {
    const session = new DigestSession('u', 'p', { cnonce: () => 'c' });
    session.onChallenge('Digest realm="r", nonce="n"');
    const params = parseDigestAuthorization(session.authorize('GET', '/x'));
    expect(params).not.toHaveProperty('qop');
    expect(params).not.toHaveProperty('nc');
    expect(params).not.toHaveProperty('cnonce');
    expect(params?.response).toBe(
      computeDigestResponse({ algorithm: 'MD5', username: 'u', password: 'p', realm: 'r', nonce: 'n', method: 'GET', uri: '/x' }),
    );
  });

  it('quotes usernames and sends non-ASCII ones as username* (RFC 7616 section 3.4.4)', () => {
    const quoted = new DigestSession('a"b\\c', 'p');
    quoted.onChallenge(challenge('n'));
    expect(quoted.authorize('GET', '/')).toContain(String.raw`username="a\"b\\c"`);
    const utf8 = new DigestSession("Jäsøn Doe's", 'p');
    utf8.onChallenge(challenge('n'));
    expect(utf8.authorize('GET', '/')).toContain("username*=UTF-8''J%C3%A4s%C3%B8n%20Doe%27s,");
  });
});

describe('parseDigestAuthorization', () => {
  it.each([
    ['undefined', undefined],
    ['Basic', 'Basic dXNlcjpwYXNz'],
    ['Bearer', 'Bearer abc.def'],
    ['two credentials', 'Digest username="u", Basic dXNlcjpwYXNz'],
  ])('is undefined for %s', (_name, header) => {
    expect(parseDigestAuthorization(header)).toBeUndefined();
  });

  it('lower-cases parameter names and unescapes values', () => {
    expect(parseDigestAuthorization(String.raw`digest UserName="a\"b", URI="/x?y=1,2", NC=00000001`)).toEqual({
      username: 'a"b',
      uri: '/x?y=1,2',
      nc: '00000001',
    });
  });

  it('keeps a __proto__ parameter as plain data', () => {
    const params = parseDigestAuthorization('Digest __proto__="x", username="u"');
    expect(Object.getPrototypeOf(params)).toBe(Object.prototype);
    expect(params?.username).toBe('u');
  });
});

describe('verifyDigestAuthorization', () => {
  /** An in-memory server: nonce states and per-nonce nc as the simulator would keep them. */
  function server(algorithm: DigestAlgorithm, realm: string, users: Record<string, string>, opaque?: string) {
    const states = new Map<string, 'valid' | 'stale'>();
    const counts = new Map<string, Set<number>>();
    const opts = {
      realm,
      algorithm,
      opaque,
      passwordFor: (u: string) => users[u],
      nonceState: (n: string) => states.get(n) ?? ('unknown' as const),
      claimNonceCount: (n: string, nc: number) => {
        const used = counts.get(n) ?? new Set<number>();
        counts.set(n, used);
        if (used.has(nc)) return false;
        used.add(nc);
        return true;
      },
    };
    return {
      states,
      counts,
      verify: (header: string | undefined, method: string, uri: string) =>
        verifyDigestAuthorization(parseDigestAuthorization(header) ?? {}, { method, uri }, opts),
    };
  }

  // RFC 2617 section 3.5: the client's Authorization header, verbatim apart from line folding.
  const RFC2617_AUTHORIZATION =
    `Digest username="Mufasa", realm="testrealm@host.com", nonce="${RFC2617.nonce}", uri="/dir/index.html", ` +
    `qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="${RFC2617.opaque}"`;

  function rfc2617Server(users: Record<string, string> = { Mufasa: RFC2617.password }) {
    const s = server('MD5', RFC2617.realm, users, RFC2617.opaque);
    s.states.set(RFC2617.nonce, 'valid');
    return s;
  }

  it('accepts the RFC 2617 section 3.5 header and records its nc', () => {
    const s = rfc2617Server();
    expect(s.verify(RFC2617_AUTHORIZATION, 'GET', '/dir/index.html')).toEqual({ ok: true, username: 'Mufasa' });
    expect([...(s.counts.get(RFC2617.nonce) ?? [])]).toEqual([1]);
  });

  it('rejects a replayed nc', () => {
    const s = rfc2617Server();
    s.verify(RFC2617_AUTHORIZATION, 'GET', '/dir/index.html');
    expect(s.verify(RFC2617_AUTHORIZATION, 'GET', '/dir/index.html')).toEqual({
      ok: false,
      stale: false,
      reason: 'replayed nonce count',
    });
  });

  it('reports a stale nonce as stale:true when the answer is otherwise right', () => {
    const s = rfc2617Server();
    s.states.set(RFC2617.nonce, 'stale');
    expect(s.verify(RFC2617_AUTHORIZATION, 'GET', '/dir/index.html')).toEqual({ ok: false, stale: true, reason: 'stale nonce' });
    expect(s.counts.size).toBe(0);
  });

  it('does not call a stale nonce stale when the password is wrong', () => {
    const s = rfc2617Server({ Mufasa: 'Circle of Lies' });
    s.states.set(RFC2617.nonce, 'stale');
    expect(s.verify(RFC2617_AUTHORIZATION, 'GET', '/dir/index.html')).toMatchObject({ ok: false, stale: false });
  });

  const edit = (from: string, to: string) => RFC2617_AUTHORIZATION.replace(from, to);
  it.each([
    ['wrong password', () => rfc2617Server({ Mufasa: 'Circle of Lies' }), RFC2617_AUTHORIZATION, '/dir/index.html', 'wrong response'],
    ['unknown user', () => rfc2617Server({ Simba: 'x' }), RFC2617_AUTHORIZATION, '/dir/index.html', 'unknown user'],
    ['wrong uri', rfc2617Server, RFC2617_AUTHORIZATION, '/dir/other.html', 'uri does not match the request target'],
    ['uri with a query missing', rfc2617Server, RFC2617_AUTHORIZATION, '/dir/index.html?x=1', 'uri does not match the request target'],
    ['wrong realm', rfc2617Server, edit('realm="testrealm@host.com"', 'realm="other"'), '/dir/index.html', 'realm mismatch'],
    ['wrong algorithm', () => server('SHA-256', RFC2617.realm, { Mufasa: RFC2617.password }), RFC2617_AUTHORIZATION, '/dir/index.html', 'algorithm mismatch'],
    ['unknown nonce', () => server('MD5', RFC2617.realm, { Mufasa: RFC2617.password }, RFC2617.opaque), RFC2617_AUTHORIZATION, '/dir/index.html', 'unknown nonce'],
    ['missing qop', rfc2617Server, edit('qop=auth, ', ''), '/dir/index.html', 'qop must be auth'],
    ['qop=auth-int', rfc2617Server, edit('qop=auth', 'qop=auth-int'), '/dir/index.html', 'qop must be auth'],
    ['missing nc', rfc2617Server, edit('nc=00000001, ', ''), '/dir/index.html', 'nc must be 8 lower-case hex digits, not zero'],
    ['short nc', rfc2617Server, edit('nc=00000001', 'nc=1'), '/dir/index.html', 'nc must be 8 lower-case hex digits, not zero'],
    ['zero nc', rfc2617Server, edit('nc=00000001', 'nc=00000000'), '/dir/index.html', 'nc must be 8 lower-case hex digits, not zero'],
    ['missing cnonce', rfc2617Server, edit('cnonce="0a4f113b", ', ''), '/dir/index.html', 'missing cnonce'],
    ['missing opaque', rfc2617Server, edit(`, opaque="${RFC2617.opaque}"`, ''), '/dir/index.html', 'opaque mismatch'],
    ['missing response', rfc2617Server, edit('response="6629fae49393a05397450978507c4ef1", ', ''), '/dir/index.html', 'missing response'],
    ['upper-case response', rfc2617Server, edit('6629fae4', '6629FAE4'), '/dir/index.html', 'wrong response'],
    ['not Digest at all', rfc2617Server, 'Basic TXVmYXNhOkNpcmNsZSBPZiBMaWZl', '/dir/index.html', 'missing or malformed username'],
  ])('rejects %s', (_name, makeServer, header, uri, reason) => {
    expect(makeServer().verify(header, 'GET', uri)).toEqual({ ok: false, stale: false, reason });
  });

  it('rejects the right answer for another method', () => {
    expect(rfc2617Server().verify(RFC2617_AUTHORIZATION, 'POST', '/dir/index.html')).toMatchObject({
      ok: false,
      reason: 'wrong response',
    });
  });

  describe.each<DigestAlgorithm>(['MD5', 'SHA-256', 'MD5-sess', 'SHA-256-sess'])('round trip with %s', (algorithm) => {
    it('DigestSession headers pass, in order, once each', () => {
      const s = server(algorithm, 'MMS Public API', { 'ops@example.com': 's3cr"et' });
      s.states.set('n1', 'valid');
      const session = new DigestSession('ops@example.com', 's3cr"et');
      const uri = '/api/public/v1.0/groups/5e1/backupConfigs?pageNum=1&itemsPerPage=500';
      expect(session.authorize('GET', uri)).toBeUndefined();
      expect(session.onChallenge(formatDigestChallenge({ realm: 'MMS Public API', nonce: 'n1', algorithm, qop: ['auth'] }))).toBe('retry');

      const first = session.authorize('GET', uri);
      const second = session.authorize('GET', uri);
      // Concurrent requests may arrive out of order: the second nc first is fine, a repeat is not.
      expect(s.verify(second, 'GET', uri)).toEqual({ ok: true, username: 'ops@example.com' });
      expect(s.verify(first, 'GET', uri)).toEqual({ ok: true, username: 'ops@example.com' });
      expect(s.verify(first, 'GET', uri)).toMatchObject({ ok: false, reason: 'replayed nonce count' });

      // The server expires n1: the session follows the stale challenge to n2 and is accepted again.
      s.states.set('n1', 'stale');
      s.states.set('n2', 'valid');
      const third = session.authorize('GET', uri);
      expect(s.verify(third, 'GET', uri)).toMatchObject({ ok: false, stale: true });
      const stale = formatDigestChallenge({ realm: 'MMS Public API', nonce: 'n2', algorithm, qop: ['auth'], stale: true });
      expect(session.onChallenge(stale)).toBe('retry');
      expect(s.verify(session.authorize('GET', uri), 'GET', uri)).toEqual({ ok: true, username: 'ops@example.com' });
    });
  });

  it('round trips a non-ASCII username through username*', () => {
    const s = server('SHA-256', 'r', { 'Jäsøn Doe': 'pässword' });
    s.states.set('n', 'valid');
    const session = new DigestSession('Jäsøn Doe', 'pässword');
    session.onChallenge(formatDigestChallenge({ realm: 'r', nonce: 'n', algorithm: 'SHA-256', qop: ['auth'] }));
    expect(s.verify(session.authorize('GET', '/'), 'GET', '/')).toEqual({ ok: true, username: 'Jäsøn Doe' });
  });
});
