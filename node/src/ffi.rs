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

/// Give freed heap memory back to the system (glibc keeps it after a scan's many small
/// allocations, which shows as idle RSS).
pub fn release_memory() {
    // SAFETY: malloc_trim only walks glibc's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Keep libav's own logging to errors; ours goes through tracing.
pub fn quiet_logs() {
    ffmpeg_next::util::log::set_level(ffmpeg_next::util::log::Level::Fatal);
}

/// Write the packets the muxer holds as one fragment (`av_write_frame(ctx, NULL)`), for the
/// mp4 muxer in `frag_custom` mode.
pub fn flush_fragment(
    octx: &mut ffmpeg_next::format::context::Output,
) -> Result<(), ffmpeg_next::Error> {
    // SAFETY: the context is a valid, header-written output context owned by `octx`; a null
    // packet is the documented way to ask a muxer with AVFMT_ALLOW_FLUSH to flush.
    let ret = unsafe { ffi::av_write_frame(octx.as_mut_ptr(), std::ptr::null_mut()) };
    if ret < 0 {
        Err(ffmpeg_next::Error::from(ret))
    } else {
        Ok(())
    }
}

/// Keyframe timestamps from a stream's index (complete for MP4/MOV, which index every
/// sample), with the number of index entries seen.
pub fn indexed_keyframes(stream: &ffmpeg_next::format::stream::Stream) -> (Vec<i64>, usize) {
    // SAFETY: the stream pointer is valid while `stream` borrows its input context; entries are
    // read-only and valid until the next demuxer call, which cannot happen during this loop.
    unsafe {
        let st = stream.as_ptr() as *mut ffi::AVStream;
        let n = ffi::avformat_index_get_entries_count(st).max(0);
        let mut keys = Vec::new();
        for i in 0..n {
            let e = ffi::avformat_index_get_entry(st, i);
            if !e.is_null() && (*e).flags() & ffi::AVINDEX_KEYFRAME != 0 {
                keys.push((*e).timestamp);
            }
        }
        (keys, n as usize)
    }
}

/// Rotation in degrees from a stream's display matrix, if any (e.g. 90 for phone video).
pub fn rotation(stream: &ffmpeg_next::format::stream::Stream) -> f64 {
    // SAFETY: side data is owned by the stream; a display matrix is 9 int32 values.
    unsafe {
        let mut size = 0;
        let data = ffi::av_stream_get_side_data(
            stream.as_ptr(),
            ffi::AVPacketSideDataType::AV_PKT_DATA_DISPLAYMATRIX,
            &mut size,
        );
        if data.is_null() || size < 36 {
            return 0.0;
        }
        let r = -ffi::av_display_rotation_get(data as *const i32);
        if r.is_nan() { 0.0 } else { r.rem_euclid(360.0) }
    }
}

/// Field order of a video stream: true when interlaced.
pub fn interlaced(par: &ffmpeg_next::codec::Parameters) -> bool {
    // SAFETY: plain field read, see `profile_and_level`.
    let order = unsafe { (*par.as_ptr()).field_order };
    !matches!(
        order,
        ffi::AVFieldOrder::AV_FIELD_PROGRESSIVE | ffi::AVFieldOrder::AV_FIELD_UNKNOWN
    )
}

/// A stream's extradata (codec configuration, e.g. avcC for H.264 in MP4).
pub fn parameters_extradata(par: &ffmpeg_next::codec::Parameters) -> Vec<u8> {
    // SAFETY: extradata is null or `extradata_size` valid bytes owned by the parameters.
    unsafe {
        let p = &*par.as_ptr();
        if p.extradata.is_null() || p.extradata_size <= 0 {
            return Vec::new();
        }
        std::slice::from_raw_parts(p.extradata, p.extradata_size as usize).to_vec()
    }
}

/// Set the codec tag of an output stream (e.g. `hvc1` for HEVC in MP4); 0 lets the muxer pick.
pub fn set_codec_tag(stream: &mut ffmpeg_next::format::stream::StreamMut, tag: u32) {
    // SAFETY: the stream's codecpar is valid and owned by the stream.
    unsafe {
        (*(*stream.as_mut_ptr()).codecpar).codec_tag = tag;
    }
}

/// The codec profile number (e.g. 100 for H.264 High).
pub fn profile_idc(par: &ffmpeg_next::codec::Parameters) -> i32 {
    // SAFETY: plain field read, see `profile_and_level`.
    unsafe { (*par.as_ptr()).profile }
}

/// Samples an encoder adds before the first real one (AAC priming: 1024).
pub fn initial_padding(enc: &ffmpeg_next::codec::Context) -> i64 {
    // SAFETY: plain field read on an opened encoder context.
    i64::from(unsafe { (*enc.as_ptr()).initial_padding }.max(0))
}
