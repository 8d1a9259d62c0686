// Text for times and durations. Pure functions, so node can test them.

/** Returns a short text for a duration in seconds: "90 s", "15 min", "1 h 30 min", "7 days". */
export function durationText(seconds) {
  if (seconds > 0 && seconds % 86400 === 0) return seconds === 86400 ? '1 day' : `${seconds / 86400} days`;
  const h = Math.floor(seconds / 3600);
  const min = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const parts = [];
  if (h) parts.push(`${h} h`);
  if (min) parts.push(`${min} min`);
  if (s || parts.length === 0) parts.push(`${s} s`);
  return parts.join(' ');
}

/**
 * Returns the text of the time elapsed from start to end (Dates or epoch milliseconds):
 * to the second under an hour, to the minute beyond; '' when either is not a valid time.
 * A negative span (clocks apart) reads as 0 s.
 */
export function elapsedText(start, end) {
  const ms = Number(end) - Number(start);
  if (!Number.isFinite(ms)) return '';
  const s = Math.max(0, Math.floor(ms / 1000));
  return durationText(s < 3600 ? s : s - (s % 60));
}

const pad = (n) => String(n).padStart(2, '0');

/** Returns a Date in local time as "2025-01-02 13:04:05", or '' for null or an invalid date. */
export function timeText(date) {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) return '';
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}
