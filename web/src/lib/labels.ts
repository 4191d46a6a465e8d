// Human names for streams: languages, channel layouts, audio and subtitle tracks.
import { formatMbps } from './format';
import type { Stream } from './types';

/** A probed stream; tolerant of other field names than the API's (`Stream`). */
type AnyStream = Partial<Stream> & Record<string, unknown>;

const str = (v: unknown): string => (v === null || v === undefined ? '' : String(v));

/** Describes one probed stream. */
export function describeStream(s: AnyStream): { kind: string; text: string } {
  const kind = str(s.kind || s.type || s.codec_type || s.media_type);
  const codec = str(s.codec || s.codec_name);
  const bits: string[] = [];
  if (codec) bits.push(codec.toUpperCase());
  if (s.profile) bits.push(str(s.profile));
  if (s.width && s.height) bits.push(`${s.width}×${s.height}`);
  const fps = s.frame_rate || s.fps || s.frameRate;
  if (fps) bits.push(`${Math.round(Number(fps) * 100) / 100} fps`);
  if (s.channels) bits.push(channelsLabel(s.channels).toLowerCase());
  if (s.sample_rate) bits.push(`${Math.round(Number(s.sample_rate) / 100) / 10} kHz`);
  const bitrate = Number(s.bitrate || s.bit_rate) || 0;
  if (bitrate) bits.push(formatMbps(bitrate));
  const language = str(s.language);
  if (language) bits.push(languageName(language));
  if (s.title && s.title !== languageName(language)) bits.push(`“${str(s.title)}”`);
  return { kind: kind ? kind[0].toUpperCase() + kind.slice(1) : 'Stream', text: bits.join(' · ') || '—' };
}

const LANGUAGE_NAMES = (() => {
  try {
    return new Intl.DisplayNames([...(navigator.languages || []), 'en'], { type: 'language' });
  } catch {
    return null;
  }
})();

/** "English" for "en" or "eng"; the code itself when unknown; "" for none or "und". */
export function languageName(code: string | null | undefined): string {
  if (!code || /^(und|mis|mul|zxx)$/i.test(code)) return '';
  try {
    const name = LANGUAGE_NAMES && LANGUAGE_NAMES.of(String(code));
    if (name && name.toLowerCase() !== String(code).toLowerCase()) return name[0].toUpperCase() + name.slice(1);
  } catch {
    // Not a valid language tag: show it as it is.
  }
  return String(code);
}

const CHANNEL_LAYOUTS: Record<number, string> = { 1: 'Mono', 2: 'Stereo', 3: '2.1', 6: '5.1', 7: '6.1', 8: '7.1' };

export function channelsLabel(channels: unknown): string {
  const n = Number(channels);
  if (!n) return '';
  return CHANNEL_LAYOUTS[n] || `${n} ch`;
}

/** What the labels need of an hls.js audio or subtitle track. */
export interface TrackLike {
  name?: string;
  lang?: string;
  channels?: string | number;
  forced?: boolean;
}

/** Label of an audio rendition: its NAME, plus the channel layout unless the name has it. */
export function audioLabel(track: TrackLike): string {
  const name = track.name || languageName(track.lang) || 'Audio';
  const channels = channelsLabel(track.channels);
  return channels && !name.includes(channels) ? `${name} · ${channels}` : name;
}

/** Label of a subtitle rendition; file names (sidecar .srt) give way to the language. */
export function subtitleLabel(track: TrackLike): string {
  const name = String(track.name || '');
  const looksLikeFile = /\.(srt|vtt|ass|ssa|sub|txt)$/i.test(name);
  let label = (!looksLikeFile && name) || languageName(track.lang) || name || 'Subtitles';
  if (track.forced && !/forced/i.test(label)) label += ' (forced)';
  return label;
}

const CODEC_NAMES: Record<string, string> = {
  hdmv_pgs_subtitle: 'PGS', dvd_subtitle: 'VobSub', dvb_subtitle: 'DVB', subrip: 'SRT', srt: 'SRT', ass: 'ASS', ssa: 'SSA',
  mov_text: 'mov_text', webvtt: 'WebVTT',
};
export const codecName = (codec: string | null | undefined): string =>
  CODEC_NAMES[String(codec || '').toLowerCase()] || String(codec || '').toUpperCase();
