//! Odd sources still play: variable frame rate, odd dimensions, portrait, no audio, audio
//! only, 10-bit HEVC, interlaced, rotated. Each is generated here and must end `ready` with
//! every rendition decodable by the ffmpeg CLI.

use crate::support::*;
use serde_json::Value;
use std::path::Path;

const SRC: &str = "testsrc2=rate=30:size=";
const TONE: &str = "sine=frequency=330:sample_rate=44100";

fn make(media: &Path, name: &str, video: Option<(&str, &[&str])>, audio: bool) {
    let path = media.join(name);
    let mut args: Vec<String> = Vec::new();
    if let Some((size, _)) = video {
        args.extend(["-f", "lavfi", "-i"].map(String::from));
        args.push(format!("{SRC}{size}"));
    }
    if audio {
        args.extend(["-f", "lavfi", "-i", TONE].map(String::from));
    }
    args.extend(["-t", "5"].map(String::from));
    match video {
        Some((_, extra)) => args.extend(extra.iter().map(|s| s.to_string())),
        None => args.extend(["-vn"].map(String::from)),
    }
    if audio {
        args.extend(["-c:a", "aac"].map(String::from));
    }
    args.push(path.to_str().unwrap().to_owned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ffmpeg(&args);
}

fn resolution(inf: &str) -> (u32, u32) {
    let r = inf
        .split("RESOLUTION=")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap();
    let (w, h) = r.split_once('x').unwrap();
    (w.parse().unwrap(), h.parse().unwrap())
}

#[test]
fn odd_sources_all_play() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    let x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "30"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> { [&x264[..], extra].concat() };
    let vfr = with(&[
        "-vf",
        "select='not(mod(n\\,3))+lt(n\\,40)'",
        "-fps_mode",
        "vfr",
    ]);
    make(&media, "vfr.mkv", Some(("640x360", &vfr)), true);
    make(
        &media,
        "odd 1279x719.mkv",
        Some(("1279x719", &with(&["-pix_fmt", "yuv444p"]))),
        true,
    );
    make(
        &media,
        "portrait.mp4",
        Some(("720x1280", &with(&["-pix_fmt", "yuv420p"]))),
        true,
    );
    make(
        &media,
        "silent.mp4",
        Some(("640x360", &with(&["-pix_fmt", "yuv420p"]))),
        false,
    );
    make(&media, "audio only.mp4", None, true);
    let hevc = [
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p10le",
        "-x265-params",
        "log-level=error",
    ];
    make(&media, "hevc10.mkv", Some(("640x360", &hevc)), true);
    let interlaced = with(&[
        "-vf",
        "tinterlace=interleave_top,fieldorder=tff",
        "-flags",
        "+ildct+ilme",
        "-pix_fmt",
        "yuv420p",
    ]);
    make(
        &media,
        "interlaced.mkv",
        Some(("640x720", &interlaced)),
        true,
    );

    // A phone-style display matrix (90°), set by a remux as cameras write it.
    make(
        &media,
        "upright.mp4",
        Some(("640x360", &with(&["-pix_fmt", "yuv420p"]))),
        true,
    );
    let upright = media.join("upright.mp4");
    let rotated = media.join("rotated.mp4");
    ffmpeg(&[
        "-i",
        upright.to_str().unwrap(),
        "-c",
        "copy",
        "-metadata:s:v:0",
        "rotate=90",
        rotated.to_str().unwrap(),
    ]);
    std::fs::remove_file(upright).unwrap();

    let server = Server::start(&media, &tmp.path().join("data"), &[]);
    let mut masters = std::collections::HashMap::new();
    for name in [
        "vfr.mkv",
        "odd 1279x719.mkv",
        "portrait.mp4",
        "silent.mp4",
        "audio only.mp4",
        "hevc10.mkv",
        "interlaced.mkv",
        "rotated.mp4",
    ] {
        let item = server.wait_ready(name);
        let id = item["id"].as_i64().unwrap();
        let master = text(&server, &format!("/hls/{id}/master.m3u8"));
        let source_s = duration(&media.join(name));
        for (inf, uri) in variants(&master) {
            let url = format!("{}/hls/{id}/{uri}", server.media_base(&id.into()));
            decode_all(&url);
            let probe = ffprobe(&url, &["-show_entries", "format=duration:stream=pix_fmt"]);
            let got = format_duration(&probe);
            assert!(
                (got - source_s).abs() < 0.5,
                "{name} {uri}: {got} s vs {source_s} s"
            );
            if inf.contains("avc1") && !uri.starts_with(&format!("{PROFILE}/source/")) {
                assert_eq!(
                    probe["streams"][0]["pix_fmt"], "yuv420p",
                    "{name} {uri}: 8-bit 4:2:0 for browsers"
                );
            }
        }
        masters.insert(name, (item, master));
    }
    let master = |name: &str| masters[name].1.clone();

    // Portrait keeps its orientation; the ladder applies to the short side.
    for (inf, _) in variants(&master("portrait.mp4")) {
        let (w, h) = resolution(&inf);
        assert!(w < h, "portrait variant {inf}");
    }
    // The display matrix is applied: a 640x360 frame rotated 90° plays as portrait.
    let rotated = variants(&master("rotated.mp4"));
    assert!(
        !rotated.iter().any(|(_, uri)| uri.starts_with("source/")),
        "a rotated source is re-encoded"
    );
    for (inf, _) in &rotated {
        let (w, h) = resolution(inf);
        assert!(w < h, "rotated variant {inf}");
    }
    // Odd sizes become even; 4:4:4 and 10-bit sources are not remuxed.
    for (inf, _) in variants(&master("odd 1279x719.mkv")) {
        let (w, h) = resolution(&inf);
        assert!(w % 2 == 0 && h % 2 == 0, "{inf}");
    }
    for name in ["odd 1279x719.mkv", "hevc10.mkv", "interlaced.mkv"] {
        assert!(
            !master(name).contains("source/"),
            "{name} must be re-encoded:\n{}",
            master(name)
        );
    }
    // No audio: no audio group. Audio only: one audio variant.
    assert!(
        !master("silent.mp4").contains("TYPE=AUDIO"),
        "{}",
        master("silent.mp4")
    );
    let audio_only = master("audio only.mp4");
    assert!(
        audio_only.contains("CODECS=\"mp4a.40.2\"") && !audio_only.contains("RESOLUTION="),
        "{audio_only}"
    );
    let item: &Value = &masters["vfr.mkv"].0;
    assert!(item["duration_s"].as_f64().unwrap() > 4.0);
}
