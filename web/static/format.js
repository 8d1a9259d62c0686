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

/** Returns the text of a rate in bytes per second, in bits: "9.8 Mbit/s", "850 kbit/s". */
export function rateText(bytesPerSecond) {
  const bits = Math.max(0, Number(bytesPerSecond) || 0) * 8;
  if (bits >= 1e6) return `${(bits / 1e6).toFixed(bits >= 1e8 ? 0 : 1)} Mbit/s`;
  return `${Math.round(bits / 1e3)} kbit/s`;
}

/**
 * Returns what the page shows of the relay's link message m (docs/PROTOCOL.md, 3.1 link):
 * '' while the link keeps up (state "ok", or a message it cannot read), else
 * "Slow connection · 1.8 Mbit/s".
 */
export function linkText(m) {
  if (m?.state !== 'limited') return '';
  const rate = Number(m.rate);
  return Number.isFinite(rate) && rate > 0 ? `Slow connection · ${rateText(rate)}` : 'Slow connection';
}
