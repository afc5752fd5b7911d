/** RequestAuth schemes shared by providers. */
import { CollectError } from './errors';
import type { RequestAuth } from './client';
import { DigestSession } from './digest';

/** HTTP Digest (RFC 7616): the first request learns the challenge, later requests authenticate up front. */
export function digestAuth(username: string, password: string): RequestAuth {
  const session = new DigestSession(username, password);
  return {
    headers(req): Record<string, string> {
      const value = session.authorize(req.method, req.path);
      return value ? { authorization: value } : {};
    },
    onUnauthorized(res) {
      const header = res.headers['www-authenticate'];
      if (!header) throw new CollectError('auth', 'HTTP 401 without a WWW-Authenticate challenge');
      return session.onChallenge(header);
    },
  };
}
