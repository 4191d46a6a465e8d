//! Every audio track and text subtitle becomes an HLS rendition with the right attributes.

use crate::support::*;

#[test]
fn audio_tracks_and_subtitles_become_renditions() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    let embedded = tmp.path().join("embedded.srt");
    std::fs::write(&embedded, "1\n00:00:01,000 --> 00:00:03,000\nHello <b>world</b>\n\n2\n00:00:07,000 --> 00:00:08,500\nLater & later\n").unwrap();
    let film = media.join("Film (2020).mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=30",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=880:sample_rate=48000",
        "-i",
        embedded.to_str().unwrap(),
        "-t",
        "9",
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-map",
        "2:a",
        "-map",
        "3:s",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "30",
        "-c:a",
        "aac",
        "-ac:a:1",
        "6",
        "-c:s",
        "srt",
        "-metadata:s:a:0",
        "language=eng",
        "-metadata:s:a:0",
        "title=Stereo mix",
        "-metadata:s:a:1",
        "language=fra",
        "-metadata:s:s:0",
        "language=eng",
        "-disposition:a:0",
        "default",
        "-disposition:a:1",
        "0",
        film.to_str().unwrap(),
    ]);
    // A sidecar in Windows-1252, as old .srt files often are.
    std::fs::write(
        media.join("Film (2020).fr.srt"),
        b"1\r\n00:00:02,000 --> 00:00:04,000\r\nCaf\xe9 cr\xe8me\r\n",
    )
    .unwrap();

    let server = Server::start(&media, &tmp.path().join("data"), &[]);
    let item = server.wait_ready("Film (2020).mkv");
    let id = item["id"].as_i64().unwrap();
    let master = text(&server, &format!("/hls/{id}/master.m3u8"));

    let media_lines: Vec<&str> = master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-MEDIA:"))
        .collect();
    let audio: Vec<&&str> = media_lines
        .iter()
        .filter(|l| l.contains("TYPE=AUDIO"))
        .collect();
    assert_eq!(audio.len(), 3, "two stereo + one 5.1:\n{master}");
    assert!(
        audio.iter().any(
            |l| l.contains("NAME=\"Stereo mix\",LANGUAGE=\"eng\",DEFAULT=YES")
                && l.contains("CHANNELS=\"2\"")
        ),
        "{master}"
    );
    assert!(
        audio
            .iter()
            .any(|l| l.contains("LANGUAGE=\"fra\",DEFAULT=NO") && l.contains("CHANNELS=\"2\"")),
        "{master}"
    );
    assert!(
        audio
            .iter()
            .any(|l| l.contains("LANGUAGE=\"fra\"") && l.contains("CHANNELS=\"6\"")),
        "5.1 rendition:\n{master}"
    );
    let subs: Vec<&&str> = media_lines
        .iter()
        .filter(|l| l.contains("TYPE=SUBTITLES"))
        .collect();
    assert_eq!(subs.len(), 2, "{master}");
    assert!(subs.iter().any(|l| l.contains("LANGUAGE=\"eng\"")));
    assert!(subs.iter().any(|l| l.contains("LANGUAGE=\"fr\"")));
    for inf in master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-STREAM-INF:"))
    {
        assert!(
            inf.contains(&format!("AUDIO=\"{PROFILE}-aac\""))
                && inf.contains(&format!("SUBTITLES=\"{PROFILE}-subs\"")),
            "{inf}"
        );
    }

    // Every audio rendition decodes with the right channel count.
    for line in &audio {
        let uri = line.split("URI=\"").nth(1).unwrap().trim_end_matches('"');
        let url = format!("{}/hls/{id}/{uri}", server.media_base(&id.into()));
        decode_all(&url);
        let probe = ffprobe(&url, &["-show_entries", "stream=channels,codec_name"]);
        let channels = if line.contains("CHANNELS=\"6\"") {
            6
        } else {
            2
        };
        assert_eq!(probe["streams"][0]["channels"], channels, "{line}");
        assert_eq!(probe["streams"][0]["codec_name"], "aac");
    }

    // Subtitles: segmented WebVTT with a timestamp map, the right cues, UTF-8 text.
    let mut all_vtt = String::new();
    for line in &subs {
        let uri = line.split("URI=\"").nth(1).unwrap().trim_end_matches('"');
        let dir = uri.trim_end_matches("index.m3u8");
        let playlist = text(&server, &format!("/hls/{id}/{uri}"));
        assert!(
            playlist.contains("#EXT-X-ENDLIST") && !playlist.contains("EXT-X-MAP"),
            "{playlist}"
        );
        let segments: Vec<&str> = playlist.lines().filter(|l| l.contains(".vtt")).collect();
        assert_eq!(segments.len(), 5, "9 s in 2 s segments: {playlist}");
        for seg in segments {
            let vtt = text(&server, &format!("/hls/{id}/{dir}{seg}"));
            assert!(vtt.starts_with("WEBVTT\nX-TIMESTAMP-MAP="), "{vtt}");
            all_vtt.push_str(&vtt);
        }
    }
    // Cue times are on the video's timeline (the muxer may start it a little after zero).
    let args = ["-select_streams", "v", "-show_entries", "stream=start_time"];
    let probe = ffprobe(film.to_str().unwrap(), &args);
    let start: f64 = probe["streams"][0]["start_time"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let cue = |from: f64, to: f64, text: &str| {
        format!("{} --> {}\n{text}", vtt(from + start), vtt(to + start))
    };
    assert!(all_vtt.contains(&cue(1.0, 3.0, "Hello world")), "{all_vtt}");
    assert!(
        all_vtt.contains(&cue(7.0, 8.5, "Later &amp; later")),
        "{all_vtt}"
    );
    assert!(
        all_vtt.contains(&cue(2.0, 4.0, "Café crème")),
        "windows-1252 sidecar:\n{all_vtt}"
    );

    let detail = server.json(&format!("/api/v1/items/{id}"));
    assert_eq!(detail["audio"].as_array().unwrap().len(), 3);
    let listed = detail["subtitles"].as_array().unwrap();
    assert!(listed.iter().all(|s| s["converted"] == true), "{listed:?}");
    assert_eq!(listed.len(), 2, "{listed:?}");
}

fn vtt(t: f64) -> String {
    let ms = (t * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

#[test]
fn hevc_and_av1_rungs_sit_beside_h264() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    clip(&media.join("Codecs.mp4"), 4, "640x360");
    let profile = "segmentSeconds: 2
preset: ultrafast
sourceRung: false
renditions:
  - {name: h264, height: 360, videoBitrateKbps: 800}
  - {name: hevc, height: 360, videoBitrateKbps: 500, codec: hevc}
  - {name: av1, height: 240, videoBitrateKbps: 300, codec: av1}
";
    let server = Server::start_with_profile(&media, &tmp.path().join("data"), profile, &[]);
    let item = server.wait_ready("Codecs.mp4");
    let id = item["id"].as_i64().unwrap();
    let master = text(&server, &format!("/hls/{id}/master.m3u8"));
    assert!(master.contains("CODECS=\"avc1."), "{master}");
    assert!(master.contains("CODECS=\"hvc1.1."), "{master}");
    assert!(master.contains("CODECS=\"av01.0."), "{master}");
    let mut extinfs = Vec::new();
    for (rung, codec) in [("h264", "h264"), ("hevc", "hevc"), ("av1", "av1")] {
        let url = format!(
            "{}/hls/{id}/{PROFILE}/{rung}/index.m3u8",
            server.media_base(&id.into())
        );
        decode_all(&url);
        let probe = ffprobe(
            &url,
            &["-show_entries", "stream=codec_name,codec_tag_string"],
        );
        assert_eq!(probe["streams"][0]["codec_name"], codec);
        if codec == "hevc" {
            assert_eq!(
                probe["streams"][0]["codec_tag_string"], "hvc1",
                "Safari needs hvc1"
            );
        }
        let playlist = text(&server, &format!("/hls/{id}/{PROFILE}/{rung}/index.m3u8"));
        extinfs.push(
            playlist
                .lines()
                .filter(|l| l.starts_with("#EXTINF"))
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(extinfs[0], extinfs[1], "hevc segments differ from h264");
    assert_eq!(extinfs[0], extinfs[2], "av1 segments differ from h264");
}

#[test]
fn a_missing_hardware_encoder_falls_back_to_software_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    clip(&media.join("Gpu.mp4"), 3, "640x360");
    let profile = "segmentSeconds: 2
preset: ultrafast
hardware: nvenc
renditions:
  - {name: 240p, height: 240, videoBitrateKbps: 400}
";
    let server = Server::start_with_profile(&media, &tmp.path().join("data"), profile, &[]);
    let item = server.wait_ready("Gpu.mp4");
    let id = item["id"].as_i64().unwrap();
    let detail = server.json(&format!("/api/v1/items/{id}"));
    let warnings = detail["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("encoded in software")),
        "{detail}"
    );
    assert!(
        server.log().contains("hardware encoding is unavailable"),
        "{}",
        server.log()
    );
    decode_all(&format!(
        "{}/hls/{id}/{PROFILE}/240p/index.m3u8",
        server.media_base(&id.into())
    ));
}
