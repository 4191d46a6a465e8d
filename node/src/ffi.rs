//! The few libav calls ffmpeg-next does not wrap. The only module allowed `unsafe`.
#![allow(unsafe_code)]

use ffmpeg_next::ffi;
use std::ffi::CStr;

/// Profile name (e.g. "High") and level (e.g. 40) of a stream's codec parameters.
pub fn profile_and_level(par: &ffmpeg_next::codec::Parameters) -> (Option<String>, Option<i32>) {
    // SAFETY: `as_ptr` is a valid AVCodecParameters for the lifetime of `par`; avcodec_profile_name
    // returns a static string or null.
    unsafe {
        let p = &*par.as_ptr();
        let name = ffi::avcodec_profile_name(p.codec_id, p.profile);
        let name = (!name.is_null()).then(|| CStr::from_ptr(name).to_string_lossy().into_owned());
        let level = (p.level > 0).then_some(p.level);
        (name, level)
    }
}

/// Bits per second the container or stream declares, if any.
pub fn bit_rate(par: &ffmpeg_next::codec::Parameters) -> Option<i64> {
    // SAFETY: see `profile_and_level`.
    let rate = unsafe { (*par.as_ptr()).bit_rate };
    (rate > 0).then_some(rate)
}

/// Number of audio channels in a stream's parameters.
pub fn channels(par: &ffmpeg_next::codec::Parameters) -> i32 {
    // SAFETY: see `profile_and_level`.
    unsafe { (*par.as_ptr()).ch_layout.nb_channels }
}

/// Sample rate of an audio stream.
pub fn sample_rate(par: &ffmpeg_next::codec::Parameters) -> i32 {
    // SAFETY: see `profile_and_level`.
    unsafe { (*par.as_ptr()).sample_rate }
}

/// Pixel format name and coded size of a video stream.
pub fn video_format(par: &ffmpeg_next::codec::Parameters) -> (Option<String>, u32, u32) {
    // SAFETY: see `profile_and_level`; av_get_pix_fmt_name returns a static string or null.
    unsafe {
        let p = &*par.as_ptr();
        let name =
            ffi::av_get_pix_fmt_name(std::mem::transmute::<i32, ffi::AVPixelFormat>(p.format));
        let name = (!name.is_null()).then(|| CStr::from_ptr(name).to_string_lossy().into_owned());
        (name, p.width.max(0) as u32, p.height.max(0) as u32)
    }
}

/// The extradata an encoder produced (SPS/PPS for H.264), used to build CODECS strings.
pub fn extradata(enc: &ffmpeg_next::codec::Context) -> Vec<u8> {
    // SAFETY: extradata is either null or `extradata_size` valid bytes owned by the context.
    unsafe {
        let ctx = &*enc.as_ptr();
        if ctx.extradata.is_null() || ctx.extradata_size <= 0 {
            return Vec::new();
        }
        std::slice::from_raw_parts(ctx.extradata, ctx.extradata_size as usize).to_vec()
    }
}

/// Encoder frame size in samples (1024 for AAC).
pub fn audio_frame_size(enc: &ffmpeg_next::codec::Context) -> usize {
    // SAFETY: plain field read on an opened encoder context.
    unsafe { (*enc.as_ptr()).frame_size.max(0) as usize }
}

/// Keep libav's own logging to errors; ours goes through tracing.
pub fn quiet_logs() {
    ffmpeg_next::util::log::set_level(ffmpeg_next::util::log::Level::Fatal);
}
