import { buildPath, pathForLog, productMessage, retryDelayMs } from '../../src/http/client';

describe('retryDelayMs', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  test.each([
    ['2', 2000],
    ['0', 0],
    ['Thu, 01 Jan 2026 00:00:03 GMT', 3000],
    ['soon', undefined],
    ['1e308', undefined],
    ['-5', undefined],
  ])('Retry-After %p -> %p ms', (header, expected) => {
    expect(retryDelayMs({ headers: { 'retry-after': header } }, 0, now)).toBe(expected);
  });

  test('backoff without Retry-After grows and stays bounded', () => {
    for (let i = 0; i < 20; i++) {
      const first = retryDelayMs({ headers: {} }, 0) as number;
      const second = retryDelayMs({ headers: {} }, 1) as number;
      expect(first).toBeGreaterThanOrEqual(100);
      expect(first).toBeLessThanOrEqual(200);
      expect(second).toBeGreaterThanOrEqual(200);
      expect(second).toBeLessThanOrEqual(400);
    }
  });
});

test('buildPath appends a query only when there is one', () => {
  expect(buildPath('/a', undefined)).toBe('/a');
  expect(buildPath('/a', { x: undefined })).toBe('/a');
  expect(buildPath('/a?b=1', { c: true })).toBe('/a?b=1&c=true');
});

test.each([
  ['{"detail":"You are not authorized for this resource.","error":401}', 'You are not authorized for this resource.'],
  ['{"error_code":"BackupService.6500","error_msg":"Vault not found"}', 'Vault not found'],
  ['{"error":{"code":401,"message":"The username or password is wrong.","title":"Unauthorized"}}', 'The username or password is wrong.'],
  ['{"Status":"Error","Message":"Invalid SysUser or SysPwd"}', 'Invalid SysUser or SysPwd'],
  ['not json', undefined],
  ['[]', undefined],
])('productMessage(%s) -> %p', (body, expected) => {
  expect(productMessage(Buffer.from(body))).toBe(expected);
});

describe('pathForLog', () => {
  test.each([
    ['/api/jobs', '/api/jobs'],
    ['/api/jobs?page=2&limit=500', '/api/jobs?page=2&limit=500'],
    ['/obs/Login.do?SysUser=api&SysPwd=s3cret&LoginName=obm', '/obs/Login.do?SysUser=api&SysPwd=xxx&LoginName=obm'],
    ['/x?access_token=abc&apiKey=k&X-Amz-Signature=s&password=p&client_secret=c', '/x?access_token=xxx&apiKey=xxx&X-Amz-Signature=xxx&password=xxx&client_secret=xxx'],
  ])('%s is logged as %s', (path, logged) => {
    expect(pathForLog(path)).toBe(logged);
  });
});
