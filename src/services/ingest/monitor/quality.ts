import type { EncoderSettings } from '../ingests/encoder-settings.js';
import type { StreamSample } from './node-health.board.js';

export interface Finding { code: string; detail: string }
export interface QualityReport {
  score: number;
  issues: Finding[];
  violations: Finding[];
  recommendation: { action: string; video_bitrate_kbps?: number; detail: string } | null;
}

/** Bitrate readings need a few seconds of bytes before they mean anything. */
const WARMUP_MS = 5_000;

/**
 * Health of a received stream against what the encoder was told to send. Penalties: stalled 60,
 * low bitrate 20, frame drop 20, profile violations 10 each; the recommendation follows IVS's advice
 * (lower the bitrate when the link cannot carry it).
 */
export function assessQuality(sample: StreamSample | undefined, target: EncoderSettings, opts: { now: number; stalled: boolean }): QualityReport {
  const issues: Finding[] = [];
  const violations: Finding[] = [];
  if (opts.stalled) issues.push({ code: 'stalled', detail: 'No bytes have arrived recently.' });
  if (!sample) {
    return { score: opts.stalled ? 40 : 0, issues: opts.stalled ? issues : [{ code: 'no_signal', detail: 'The stream is not on the node.' }, ...issues], violations, recommendation: null };
  }
  const warm = opts.now - sample.firstSeenAt >= WARMUP_MS;
  const kbps = sample.bitrateBps === null ? null : sample.bitrateBps / 1000;
  const targetKbps = target.video_bitrate_kbps + target.audio_bitrate_kbps;
  if (warm && kbps !== null && kbps < targetKbps * 0.6) {
    issues.push({ code: 'low_bitrate', detail: `Receiving ${Math.round(kbps)} kbps of a ${targetKbps} kbps target.` });
  }
  const v = sample.stats.video;
  if (v?.frameRate && v.frameRate < target.frame_rate * 0.9) {
    issues.push({ code: 'fps_drop', detail: `Sending ${v.frameRate} fps where ${target.frame_rate} is expected.` });
  }
  const dropped = sample.stats.publisher?.dropped ?? 0;
  if (dropped > 0) issues.push({ code: 'dropped_frames', detail: `${dropped} frames dropped by the node.` });
  if (v) {
    if (v.codec.toUpperCase() !== 'H264') violations.push({ code: 'codec_mismatch', detail: `Video codec ${v.codec}; the profile asks for H.264.` });
    if ((v.height ?? 0) > target.height || (v.width ?? 0) > target.width) violations.push({ code: 'resolution_exceeds_profile', detail: `${v.width ?? '?'}x${v.height ?? '?'} exceeds the profile's ${target.width}x${target.height}.` });
  }
  const a = sample.stats.audio;
  if (a && a.codec.toUpperCase() !== 'AAC') violations.push({ code: 'audio_codec_mismatch', detail: `Audio codec ${a.codec}; the profile asks for AAC.` });
  const penalty: Record<string, number> = { stalled: 60, low_bitrate: 20, fps_drop: 20, dropped_frames: 10 };
  const score = Math.max(0, 100 - issues.reduce((s, i) => s + (penalty[i.code] ?? 10), 0) - violations.length * 10);
  let recommendation: QualityReport['recommendation'] = null;
  if (issues.some((i) => i.code === 'low_bitrate' || i.code === 'fps_drop' || i.code === 'dropped_frames')) {
    const lower = Math.max(300, Math.round(((kbps !== null && kbps > 0 ? Math.min(kbps, targetKbps) : targetKbps) * 0.8 - target.audio_bitrate_kbps) / 100) * 100);
    recommendation = { action: 'lower_bitrate', video_bitrate_kbps: lower, detail: `The link does not carry the target reliably: set the video bitrate to about ${lower} kbps (or a lower profile).` };
  }
  return { score, issues, violations, recommendation };
}
