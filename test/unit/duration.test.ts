import { DURATION_PATTERN, formatDuration, parseDuration } from '../../src/config/duration';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe('parseDuration', () => {
  const good: Array<[string, number]> = [
    ['0', 0],
    ['0s', 0],
    ['0ms', 0],
    ['1ms', 1],
    ['500ms', 500],
    ['1s', S],
    ['10s', 10 * S],
    ['90s', 90 * S],
    ['1m', M],
    ['5m', 5 * M],
    ['1h', H],
    ['24h', 24 * H],
    ['1h30m', H + 30 * M],
    ['1h30m15s250ms', H + 30 * M + 15 * S + 250],
    ['1d', D],
    ['7d', 7 * D],
    ['1w', 7 * D],
    ['2w3d', 17 * D],
    ['1y', 365 * D],
    ['1y2w3d4h5m6s7ms', 365 * D + 14 * D + 3 * D + 4 * H + 5 * M + 6 * S + 7],
    ['007s', 7 * S],
  ];
  test.each(good)('%s -> %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
    expect(new RegExp(DURATION_PATTERN).test(text)).toBe(true);
  });

  const bad: Array<[string, string]> = [
    ['', 'invalid duration "": empty'],
    ['5 minutes', 'invalid duration "5 minutes": expected one or more <integer><unit>'],
    ['10', 'invalid duration "10": missing unit (e.g. "10s")'],
    ['-1s', 'invalid duration "-1s": must not be negative'],
    ['1.5m', 'invalid duration "1.5m": fractions are not allowed'],
    ['1m1h', 'invalid duration "1m1h": units must go from largest to smallest'],
    ['1s1s', 'invalid duration "1s1s": unit "s" appears twice'],
    ['1ms1s', 'invalid duration "1ms1s": units must go from largest to smallest'],
    ['1x', 'invalid duration "1x": expected one or more'],
    ['s', 'invalid duration "s": expected one or more'],
    ['1S', 'invalid duration "1S": expected one or more'],
    [' 1s', 'invalid duration " 1s": must not start or end with spaces'],
    ['1s ', 'must not start or end with spaces'],
    ['1h 30m', 'invalid duration "1h 30m": expected one or more'],
  ];
  test.each(bad)('%j is rejected: %s', (text, message) => {
    expect(() => parseDuration(text)).toThrow(message);
    expect(new RegExp(DURATION_PATTERN).test(text)).toBe(false);
  });

  test('a value beyond the safe integer range is rejected (the pattern cannot tell)', () => {
    expect(() => parseDuration('99999999999999y')).toThrow('invalid duration "99999999999999y": too large');
    expect(() => parseDuration('9007199254740993ms')).toThrow('too large');
  });

  test('a non-string is rejected with a clear message', () => {
    expect(() => parseDuration(10 as unknown as string)).toThrow('invalid duration: expected a string such as "30s", got number');
  });

  test('a very long bad value is cut short in the message', () => {
    const text = `${'9'.repeat(200)}x`;
    let message = '';
    try {
      parseDuration(text);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.length).toBeLessThan(250);
    expect(message).toContain('...');
  });
});

describe('formatDuration', () => {
  const cases: Array<[number, string]> = [
    [0, '0s'],
    [1, '1ms'],
    [500, '500ms'],
    [S, '1s'],
    [90 * S, '1m30s'],
    [H + 30 * M, '1h30m'],
    [24 * H, '1d'],
    [7 * D, '1w'],
    [8 * D, '1w1d'],
    [365 * D, '1y'],
    [365 * D + 1, '1y1ms'],
  ];
  test.each(cases)('%d ms -> %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });

  test.each([[-1], [1.5], [Number.NaN], [Number.POSITIVE_INFINITY]])('%d is rejected', (ms) => {
    expect(() => formatDuration(ms)).toThrow(RangeError);
  });

  test('round trip over many values', () => {
    for (let ms = 0; ms < 3 * D; ms += 7919 * 131) expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
});
