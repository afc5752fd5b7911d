import { longestGapSeconds, parseRule } from '../../src/providers/rrule';

const HOUR = 3600;
const DAY = 24 * HOUR;

describe('CBR policy schedules (iCalendar RRULE)', () => {
  test.each([
    // Huawei's documented examples (CBR API reference, "Creating a Policy" and the policy list).
    [['FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA,SU;BYHOUR=14;BYMINUTE=00'], DAY],
    [['FREQ=DAILY;INTERVAL=1;BYHOUR=14;BYMINUTE=00'], DAY],
    [['FREQ=DAILY;INTERVAL=2;BYHOUR=14;BYMINUTE=00'], 2 * DAY],
    [['FREQ=HOURLY;INTERVAL=4'], 4 * HOUR],
    [['FREQ=HOURLY;INTERVAL=1;BYMINUTE=30'], HOUR],
    // The weekend is the longest gap of a weekday schedule.
    [['FREQ=WEEKLY;BYDAY=MO,WE,FR;BYHOUR=02;BYMINUTE=00'], 3 * DAY],
    [['FREQ=WEEKLY;INTERVAL=2;BYDAY=SA;BYHOUR=3'], 14 * DAY],
    // Two runs a day, unevenly spaced: the longer stretch counts.
    [['FREQ=DAILY;BYHOUR=2,8;BYMINUTE=0'], 18 * HOUR],
    // Several patterns combine: their runs together.
    [['FREQ=DAILY;INTERVAL=1;BYHOUR=00;BYMINUTE=00', 'FREQ=DAILY;INTERVAL=1;BYHOUR=12;BYMINUTE=00'], 12 * HOUR],
    [['FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=22', 'FREQ=WEEKLY;BYDAY=SU;BYHOUR=10'], 36 * HOUR],
    // An hourly rule limited to working hours on weekdays.
    [['FREQ=HOURLY;INTERVAL=1;BYHOUR=8,9,10,11,12,13,14,15,16,17;BYDAY=MO,TU,WE,TH,FR'], 2 * DAY + 15 * HOUR],
  ])('%j: %i s', (patterns, seconds) => {
    expect(longestGapSeconds(patterns)).toBe(seconds);
  });

  test.each([
    [[]],
    [['FREQ=MONTHLY;BYMONTHDAY=1']],
    [['FREQ=DAILY;COUNT=3']],
    [['FREQ=DAILY;BYHOUR=25']],
    [['FREQ=WEEKLY;BYDAY=1MO']],
    [['FREQ=DAILY;INTERVAL=0']],
    [['not a rule']],
    [['FREQ=DAILY;BYHOUR=14', 'FREQ=YEARLY']],
    // Never runs: an hourly rule limited to an hour it never reaches.
    [['FREQ=HOURLY;INTERVAL=6;BYHOUR=1']],
  ])('%j is not read', (patterns) => {
    expect(longestGapSeconds(patterns)).toBeUndefined();
  });

  test('parts are read case-insensitively and INTERVAL defaults to 1', () => {
    expect(parseRule('freq=daily;byhour=14;byminute=00')).toEqual({ freq: 'DAILY', interval: 1, byHour: [14], byMinute: [0] });
  });
});
