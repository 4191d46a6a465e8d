use super::*;

fn seg(start: f64, duration: f64, size: u64) -> SegmentInfo {
    SegmentInfo {
        start,
        duration,
        size,
        iframe_size: Some(size / 4),
    }
}

fn video(name: &str, height: u32) -> Kind {
    Kind::Video(Rendition {
        name: name.into(),
        width: height * 16 / 9,
        height,
        frame_rate: Some(29.97),
        codecs: "avc1.64001f".into(),
        source: false,
    })
}

fn audio(name: &str, language: &str, channels: u32, default: bool) -> Kind {
    Kind::Audio(AudioRendition {
        name: name.into(),
        language: Some(language.into()),
        title: None,
        channels,
        codecs: "mp4a.40.2".into(),
        default,
    })
}

#[test]
fn parses_media_playlist() {
    let text = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:6.000000,\nseg_00000.m4s\n#EXTINF:2.5,\nseg_00001.m4s\n#EXT-X-ENDLIST\n";
    let segs = parse_segments(text);
    assert_eq!(segs.len(), 2);
    assert_eq!(
        (segs[1].duration, segs[1].uri.as_str()),
        (2.5, "seg_00001.m4s")
    );
}

#[test]
fn peak_ignores_a_short_tail_segment() {
    let segs = [
        seg(0.0, 6.0, 600_000),
        seg(6.0, 6.0, 750_000),
        seg(12.0, 0.5, 100_000),
    ];
    let bw = bandwidth(&segs, |s| s.size);
    assert_eq!(bw.peak, 1_000_000);
    assert_eq!(bw.average, ((1_450_000.0 * 8.0) / 12.5_f64).ceil() as u64);
}

#[test]
fn live_package_lists_ready_renditions_then_finishes_as_vod() {
    let dir = tempfile::tempdir().unwrap();
    for d in ["720p", "360p", "audio_eng", "audio_fra"] {
        std::fs::create_dir(dir.path().join(d)).unwrap();
    }
    let live = Live::new(dir.path(), 6.0);
    live.register(video("720p", 720));
    live.register(video("360p", 360));
    live.register(audio("audio_eng", "eng", 2, false));
    live.register(audio("audio_fra", "fra", 2, true));
    live.add_segment("audio_eng", seg(0.0, 6.0, 96_000))
        .unwrap();
    assert!(
        !dir.path().join(MASTER).exists(),
        "no audio-only master for a video package"
    );
    live.add_segment("720p", seg(0.0, 6.0, 2_250_000)).unwrap();

    // Fast start: the master already lists what is ready, as EVENT playlists.
    let master = std::fs::read_to_string(dir.path().join(MASTER)).unwrap();
    assert!(
        master.contains("720p/index.m3u8") && !master.contains("360p/index.m3u8"),
        "{master}"
    );
    let media = std::fs::read_to_string(dir.path().join("720p").join(PLAYLIST)).unwrap();
    assert!(media.contains("#EXT-X-PLAYLIST-TYPE:EVENT") && !media.contains("ENDLIST"));

    for name in ["360p", "audio_fra"] {
        live.add_segment(name, seg(0.0, 6.0, 600_000)).unwrap();
    }
    live.add_segment("720p", seg(6.0, 3.0, 1_000_000)).unwrap();
    let package = live.finish(9.0).unwrap();
    assert_eq!(package.variants.len(), 2);
    assert_eq!(package.variants[0].bandwidth, 3_000_000 + 800_000);

    let master = std::fs::read_to_string(dir.path().join(MASTER)).unwrap();
    assert!(master.contains("#EXT-X-INDEPENDENT-SEGMENTS\n"));
    assert!(master.contains("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"English\",LANGUAGE=\"eng\",DEFAULT=NO,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"audio_eng/index.m3u8\"\n"), "{master}");
    assert!(
        master.contains("NAME=\"Français\",LANGUAGE=\"fra\",DEFAULT=YES"),
        "{master}"
    );
    assert!(
        master.contains("#EXT-X-STREAM-INF:BANDWIDTH=3800000,AVERAGE-BANDWIDTH="),
        "{master}"
    );
    assert!(master.contains("CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720,FRAME-RATE=29.970,AUDIO=\"aac\"\n720p/index.m3u8\n"));
    assert!(
        master.contains("#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH="),
        "{master}"
    );
    assert!(master.contains("URI=\"720p/iframes.m3u8\""));

    let media = std::fs::read_to_string(dir.path().join("720p").join(PLAYLIST)).unwrap();
    assert!(media.contains("#EXT-X-PLAYLIST-TYPE:VOD") && media.ends_with("#EXT-X-ENDLIST\n"));
    assert!(media.contains("#EXTINF:3.000000,\nseg_00001.m4s\n"));
    let iframes = std::fs::read_to_string(dir.path().join("720p").join(IFRAMES)).unwrap();
    assert!(
        iframes.contains("#EXT-X-I-FRAMES-ONLY")
            && iframes.contains("#EXT-X-BYTERANGE:562500@0\nseg_00000.m4s"),
        "{iframes}"
    );
    assert_eq!(Package::read(dir.path()).unwrap(), package);
}

#[test]
fn audio_only_package_has_an_audio_variant() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("audio_eng")).unwrap();
    let live = Live::new(dir.path(), 6.0);
    live.register(audio("audio_eng", "eng", 2, true));
    live.add_segment("audio_eng", seg(0.0, 6.0, 96_000))
        .unwrap();
    live.finish(6.0).unwrap();
    let master = std::fs::read_to_string(dir.path().join(MASTER)).unwrap();
    assert!(master.contains("#EXT-X-STREAM-INF:BANDWIDTH=128000,AVERAGE-BANDWIDTH=128000,CODECS=\"mp4a.40.2\"\naudio_eng/index.m3u8"), "{master}");
}

#[test]
fn stamping_versions_every_media_uri() {
    let text = "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:6.000,\nseg_00000.m4s\n#EXT-X-BYTERANGE:900@0\n#EXTINF:6.000,\nseg_00001.m4s\n#EXT-X-ENDLIST\n";
    let stamped = playlist::stamp(text, "k3");
    assert_eq!(
        stamped,
        "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4?v=k3\"\n#EXTINF:6.000,\nseg_00000.m4s?v=k3\n#EXT-X-BYTERANGE:900@0\n#EXTINF:6.000,\nseg_00001.m4s?v=k3\n#EXT-X-ENDLIST\n"
    );
    let segs = parse_segments(&stamped);
    assert_eq!(segs[1].uri, "seg_00001.m4s?v=k3");
}

#[test]
fn a_capped_master_offers_only_variants_under_the_cap_or_else_the_lowest() {
    let master = "#EXTM3U
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"Audio\",URI=\"audio/index.m3u8\"
#EXT-X-STREAM-INF:BANDWIDTH=6000000,AVERAGE-BANDWIDTH=5000000,CODECS=\"avc1\"
1080p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=800000,CODECS=\"avc1\"
360p/index.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1500000,URI=\"1080p/iframes.m3u8\"
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=90000,URI=\"360p/iframes.m3u8\"
";
    let capped = cap_master(master, 1_000_000);
    assert!(!capped.contains("1080p"), "{capped}");
    assert!(capped.contains("360p/index.m3u8") && capped.contains("360p/iframes.m3u8"));
    assert!(capped.contains("audio/index.m3u8"));
    let tiny = cap_master(master, 100_000);
    assert!(
        tiny.contains("360p/index.m3u8"),
        "the lowest variant stays: {tiny}"
    );
    assert!(!tiny.contains("1080p/index.m3u8"));
    assert_eq!(cap_master(master, 10_000_000), master);
}

#[test]
fn a_one_rendition_master_keeps_that_variant_its_audio_and_no_iframes() {
    let master = "#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"Audio\",URI=\"standard/audio/index.m3u8?v=1\"
#EXT-X-STREAM-INF:BANDWIDTH=6000000,AUDIO=\"a\"
standard/1080p/index.m3u8?v=1
#EXT-X-STREAM-INF:BANDWIDTH=900000,AUDIO=\"a\"
standard/360p/index.m3u8?v=1
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=90000,URI=\"standard/360p/iframes.m3u8\"
";
    let one = one_rendition(master, "360p").unwrap();
    assert_eq!(
        one,
        "#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"Audio\",URI=\"standard/audio/index.m3u8?v=1\"
#EXT-X-STREAM-INF:BANDWIDTH=900000,AUDIO=\"a\"
standard/360p/index.m3u8?v=1
"
    );
    assert_eq!(
        one_rendition(master, "4k").unwrap_err(),
        ["1080p", "360p"],
        "what there is instead"
    );
}
