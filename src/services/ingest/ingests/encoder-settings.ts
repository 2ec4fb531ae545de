import { Type, type Static } from '@sinclair/typebox';
import type { NodeLimits } from '../nodes/node.schemas.js';

export const QUALITY_PROFILES = ['480p30', '720p30', '720p60', '1080p30', '1080p60'] as const;
export type QualityProfile = (typeof QUALITY_PROFILES)[number];

interface Rung { width: number; height: number; fps: number; kbps: number }
/** Bitrates follow the common H.264 ladders (YouTube Live, IVS): enough for sports-like motion. */
const PROFILES: Record<QualityProfile, Rung> = {
  '480p30': { width: 854, height: 480, fps: 30, kbps: 1_500 },
  '720p30': { width: 1280, height: 720, fps: 30, kbps: 3_000 },
  '720p60': { width: 1280, height: 720, fps: 60, kbps: 4_500 },
  '1080p30': { width: 1920, height: 1080, fps: 30, kbps: 4_500 },
  '1080p60': { width: 1920, height: 1080, fps: 60, kbps: 6_000 },
};
const HEIGHTS = [1080, 720, 480, 360, 240, 144];

/** What the encoder should send (the schema is the type: also the API's `encoder_settings`). */
export const EncoderSettings = Type.Object({
  video_codec: Type.String(),
  h264_profile: Type.String(),
  width: Type.Integer(),
  height: Type.Integer(),
  frame_rate: Type.Integer(),
  video_bitrate_kbps: Type.Integer(),
  rate_control: Type.String(),
  keyframe_interval_seconds: Type.Integer(),
  audio_codec: Type.String(),
  audio_bitrate_kbps: Type.Integer(),
  audio_sample_rate: Type.Integer(),
  adjusted: Type.Array(Type.String(), { description: 'What was lowered to fit the nodes\' limits.' }),
});
export type EncoderSettings = Static<typeof EncoderSettings>;

/**
 * What the encoder should send: the profile's rung, lowered where a node's limits demand (the tightest
 * of primary and backup, since a redundant encoder sends the same encode to both). A 2 s keyframe
 * interval and CBR are what every HLS packager and IVS/YouTube expect.
 */
export function encoderSettings(profile: QualityProfile, limits: NodeLimits[]): EncoderSettings {
  const r = { ...PROFILES[profile] };
  const adjusted: string[] = [];
  const maxKbps = min(limits.map((l) => l.max_bitrate_kbps));
  const maxHeight = min(limits.map((l) => l.max_height));
  const maxFps = min(limits.map((l) => l.max_fps));
  if (maxHeight !== undefined && r.height > maxHeight) {
    const h = HEIGHTS.find((x) => x <= maxHeight) ?? maxHeight;
    r.width = Math.round((h * 16) / 9 / 2) * 2;
    r.kbps = Math.round((r.kbps * h) / r.height);
    r.height = h;
    adjusted.push(`height lowered to ${h} (node max_height ${maxHeight})`);
  }
  if (maxFps !== undefined && r.fps > maxFps) {
    r.kbps = Math.round((r.kbps * maxFps) / r.fps);
    r.fps = maxFps;
    adjusted.push(`frame rate lowered to ${maxFps} (node max_fps)`);
  }
  if (maxKbps !== undefined && r.kbps > maxKbps) {
    r.kbps = maxKbps;
    adjusted.push(`bitrate lowered to ${maxKbps} kbps (node max_bitrate_kbps)`);
  }
  return {
    video_codec: 'h264',
    h264_profile: r.height >= 720 ? 'high' : 'main',
    width: r.width,
    height: r.height,
    frame_rate: r.fps,
    video_bitrate_kbps: r.kbps,
    rate_control: 'cbr',
    keyframe_interval_seconds: 2,
    audio_codec: 'aac',
    audio_bitrate_kbps: 128,
    audio_sample_rate: 48_000,
    adjusted,
  };
}

function min(values: Array<number | undefined>): number | undefined {
  const v = values.filter((x): x is number => x !== undefined);
  return v.length ? Math.min(...v) : undefined;
}
