//! A folder of video becomes adaptive HLS that an independent decoder accepts.

use crate::support::*;
use std::collections::BTreeSet;
use std::time::Duration;

#[test]
fn library_is_transcoded_and_served_as_valid_hls() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    let source = media.join("Clip (2021).mp4");
    clip(&source, 9, "640x360");
    let server = Server::start(&media, &tmp.path().join("data"), &[]);

    let item = server.wait_ready("Clip (2021).mp4");
    assert_eq!(item["title"], "Clip");
    assert_eq!(item["year"], 2021);
    assert!(
        (item["duration_s"].as_f64().unwrap() - 9.0).abs() < 0.2,
        "{item}"
    );
    assert_eq!(item["progress"], 1.0);
    let id = item["id"].as_i64().unwrap();
    let hls = format!("{}/hls/{id}/{PROFILE}", server.media_base(&id.into()));

    // Master playlist per the authoring spec; the 720p rung is skipped (no upscaling).
    let (status, master) = server.get(&format!("/hls/{id}/master.m3u8"));
    assert_eq!(status, 200);
    let master = String::from_utf8(master).unwrap();
    assert!(master.starts_with("#EXTM3U\n") && master.contains("#EXT-X-INDEPENDENT-SEGMENTS"));
    let variants: Vec<&str> = master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-STREAM-INF:"))
        .collect();
    assert_eq!(variants.len(), 2, "{master}");
    // No upscaling, and the browser-safe H.264 source is remuxed as the top rung instead
    // of re-encoding a 360p one.
    assert!(
        !master.contains("720p/") && !master.contains("360p/"),
        "{master}"
    );
    assert!(
        master.contains("RESOLUTION=640x360")
            && master.contains(&format!("\n{PROFILE}/source/index.m3u8\n")),
        "{master}"
    );
    for rung in ["source", "240p"] {
        let uri = format!("URI=\"{PROFILE}/{rung}/iframes.m3u8\"");
        assert!(
            master.contains("#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=") && master.contains(&uri),
            "{master}"
        );
    }
    for v in &variants {
        for attr in [
            "BANDWIDTH=",
            "AVERAGE-BANDWIDTH=",
            "RESOLUTION=",
            "FRAME-RATE=30.000",
            &format!("AUDIO=\"{PROFILE}-aac\""),
        ] {
            assert!(v.contains(attr), "{attr} missing in {v}");
        }
        let codecs = v
            .split("CODECS=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let (video, audio) = codecs.split_once(',').unwrap();
        assert!(video.starts_with("avc1.") && video.len() == 11, "{codecs}");
        assert_eq!(audio, "mp4a.40.2");
    }
    assert!(master.contains(&format!(
        "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"{PROFILE}-aac\""
    )));

    let source_s = duration(&source);
    let mut extinfs = Vec::new();
    for (rung, height) in [("source", 360), ("240p", 240)] {
        let url = format!("{hls}/{rung}/index.m3u8");
        let (_, playlist) = server.get(&format!("/hls/{id}/{PROFILE}/{rung}/index.m3u8"));
        let playlist = String::from_utf8(playlist).unwrap();
        assert!(
            playlist.contains("#EXT-X-PLAYLIST-TYPE:VOD") && playlist.contains("#EXT-X-ENDLIST")
        );
        assert!(playlist.contains("#EXT-X-MAP:URI="));
        let durations: Vec<String> = playlist
            .lines()
            .filter_map(|l| l.strip_prefix("#EXTINF:"))
            .map(str::to_owned)
            .collect();
        extinfs.push(durations.clone());

        // Decodes end to end over HTTP, right size, right length.
        decode_all(&url);
        let probe = ffprobe(
            &url,
            &["-show_entries", "stream=width,height:format=duration"],
        );
        assert_eq!(probe["streams"][0]["height"], height);
        let got = format_duration(&probe);
        assert!(
            (got - source_s).abs() < 0.5,
            "{rung}: {got} s vs source {source_s} s"
        );

        // Every segment starts with an IDR: keyframes exactly at the segment starts.
        let frames = ffprobe(
            &url,
            &[
                "-select_streams",
                "v",
                "-show_entries",
                "frame=pts_time,key_frame,pict_type",
            ],
        );
        let frames = frames["frames"].as_array().unwrap();
        let first = frames[0]["pts_time"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap();
        let keys: Vec<f64> = frames
            .iter()
            .filter(|f| f["key_frame"] == 1)
            .map(|f| f["pts_time"].as_str().unwrap().parse::<f64>().unwrap() - first)
            .collect();
        let mut starts = vec![0.0];
        for d in &durations[..durations.len() - 1] {
            starts.push(starts.last().unwrap() + d.trim_end_matches(',').parse::<f64>().unwrap());
        }
        // Every segment starts on a keyframe; encoded rungs have keyframes nowhere else (the
        // remuxed source keeps the source's own keyframes in between).
        for s in &starts {
            assert!(
                keys.iter().any(|k| (k - s).abs() < 0.034),
                "{rung}: no keyframe at segment start {s}: {keys:?}"
            );
        }
        if rung != "source" {
            assert_eq!(keys.len(), starts.len(), "{rung}: {keys:?} vs {starts:?}");
        }
        assert!(
            durations.len() >= 4,
            "2 s segments of a 9 s clip: {durations:?}"
        );
    }
    assert_eq!(
        extinfs[0], extinfs[1],
        "segment boundaries differ between renditions"
    );
    decode_all(&format!("{hls}/audio0/index.m3u8"));
    // An I-frame playlist's byte range holds exactly one decodable IDR frame.
    let (_, iframes) = server.get(&format!("/hls/{id}/{PROFILE}/240p/iframes.m3u8"));
    let iframes = String::from_utf8(iframes).unwrap();
    assert!(iframes.contains("#EXT-X-I-FRAMES-ONLY"), "{iframes}");
    let range = iframes.split("#EXT-X-BYTERANGE:").nth(2).unwrap();
    let len: usize = range.split('@').next().unwrap().parse().unwrap();
    let (_, init) = server.get(&format!("/hls/{id}/{PROFILE}/240p/init.mp4"));
    let (_, seg) = server.get(&format!("/hls/{id}/{PROFILE}/240p/seg_00001.m4s"));
    let idr = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(idr.path(), [&init[..], &seg[..len]].concat()).unwrap();
    let args = ["-count_frames", "-show_entries", "stream=nb_read_frames"];
    let frames = ffprobe(idr.path().to_str().unwrap(), &args);
    assert_eq!(frames["streams"][0]["nb_read_frames"], "1", "{iframes}");

    // The API describes the package: streams and measured renditions.
    let detail = server.json(&format!("/api/v1/items/{id}"));
    let kinds: BTreeSet<&str> = detail["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, BTreeSet::from(["audio", "video"]));
    let renditions = detail["renditions"].as_array().unwrap();
    assert_eq!(renditions.len(), 2);
    // AVERAGE-BANDWIDTH is measured: within 10% of the bytes actually served per second.
    let rung_bytes: u64 = walk_bytes(
        &server.data.join(format!("hls/{id}/{PROFILE}/source")),
        "m4s",
    ) + walk_bytes(
        &server.data.join(format!("hls/{id}/{PROFILE}/audio0")),
        "m4s",
    );
    let measured = rung_bytes as f64 * 8.0 / source_s;
    let stated = renditions[0]["average_bandwidth"].as_f64().unwrap();
    assert!(
        (stated - measured).abs() / measured < 0.1,
        "stated {stated}, measured {measured}"
    );

    // Poster, caching and MIME types, Range.
    let (status, headers, poster) = server.get_full(&format!("/api/v1/items/{id}/poster"), &[]);
    assert_eq!(
        (status, &poster[..2]),
        (200, &[0xff, 0xd8][..]),
        "poster is a JPEG"
    );
    assert_eq!(headers["content-type"], "image/jpeg");
    // Published playlists version their media URLs, which can then be cached for good.
    let playlist = text(&server, &format!("/hls/{id}/{PROFILE}/240p/index.m3u8"));
    let second = playlist
        .lines()
        .filter(|l| l.starts_with("seg_"))
        .nth(1)
        .unwrap();
    assert!(second.starts_with("seg_00001.m4s?v="), "{playlist}");
    assert!(
        playlist.contains("#EXT-X-MAP:URI=\"init.mp4?v="),
        "{playlist}"
    );
    let seg = format!("/hls/{id}/{PROFILE}/240p/{second}");
    let (status, headers, body) = server.get_full(&seg, &[("range", "bytes=10-109")]);
    assert_eq!((status, body.len()), (206, 100));
    assert_eq!(headers["content-type"], "video/iso.segment");
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let (_, headers, _) = server.get_full(&format!("/hls/{id}/master.m3u8"), &[]);
    assert_eq!(headers["content-type"], "application/vnd.apple.mpegurl");
    assert_eq!(headers["cache-control"], "no-cache");

    // Nothing outside the package folder is reachable.
    for bad in [
        "/hls/../catalog.sqlite",
        "/hls/%2e%2e/catalog.sqlite",
        &format!("/hls/{id}/..%2f..%2fcatalog.sqlite"),
    ] {
        let (status, body) = server.get(bad);
        assert!(status == 404 || status == 400, "{bad} gave {status}");
        assert!(!body.starts_with(b"SQLite"), "{bad} leaked the catalog");
    }

    // Metrics count what happened.
    let (_, metrics) = server.get("/metrics");
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains("manofwar_items{state=\"ready\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("manofwar_transcodes_total{outcome=\"ready\"} 1"));
    assert!(metrics.contains("manofwar_http_request_duration_seconds_count"));
    let served: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("manofwar_http_response_bytes_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(served > rung_bytes as f64 / 2.0, "bytes served {served}");
}

fn walk_bytes(dir: &std::path::Path, ext: &str) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == ext))
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

#[test]
fn bad_requests_get_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    std::fs::write(media.join("notes.mp4"), "just text").unwrap();
    let server = Server::start(&media, &tmp.path().join("data"), &["--workers", "0"]);
    let notes = server.wait_item("notes.mp4", Duration::from_secs(20), |i| {
        i["state"] == "failed"
    });

    let (status, body) = server.get("/api/v1/items/9999");
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("no item with id 9999"));
    let (status, _) = server.get("/api/v1/items/not-a-number");
    assert_eq!(status, 400);
    let (status, _) = server.post("/api/v1/items/9999/transcode");
    assert_eq!(status, 404);
    let (status, body) = server.post(&format!("/api/v1/items/{}/transcode", notes["id"]));
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("cannot be transcoded")
    );
    let (status, _) = server.get(&format!("/api/v1/items/{}/poster", notes["id"]));
    assert_eq!(status, 404);
}

#[test]
fn transcode_request_moves_an_item_to_the_front() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    // Scanned in name order, so queued A, B, C; A is long enough to still be running when we ask.
    clip(&media.join("A long.mp4"), 24, "1280x720");
    clip(&media.join("B.mp4"), 2, "320x240");
    clip(&media.join("C.mp4"), 2, "320x240");
    let server = Server::start(&media, &tmp.path().join("data"), &["--workers", "1"]);
    server.wait_item("A long.mp4", Duration::from_secs(30), |i| {
        i["state"] == "transcoding"
    });
    let c = server
        .items()
        .into_iter()
        .find(|i| i["title"] == "C")
        .unwrap();
    let (status, item) = server.post(&format!("/api/v1/items/{}/transcode", c["id"]));
    assert_eq!((status, item["state"].as_str()), (202, Some("pending")));

    server.wait_ready("C.mp4");
    server.wait_ready("B.mp4");
    // The server logs each start; C was asked for, so it must have started before B.
    let log = server.log();
    let started = |name: &str| {
        log.lines()
            .position(|l| l.contains("transcode started") && l.contains(name))
            .unwrap_or_else(|| panic!("no start logged for {name}:\n{log}"))
    };
    assert!(started("C.mp4") < started("B.mp4"), "C ran after B:\n{log}");
}
