//! Fast start: a file dropped into a running server is playable from its first segments
//! while the rest of the ladder is still being encoded.

use crate::support::*;
use std::time::{Duration, Instant};

const SLOW_LADDER: &str = "segmentSeconds: 2
preset: veryfast
renditions:
  - {name: 1080p, height: 1080, videoBitrateKbps: 6000}
  - {name: 720p, height: 720, videoBitrateKbps: 3000}
  - {name: 360p, height: 360, videoBitrateKbps: 730}
";

#[test]
fn first_segment_plays_before_the_transcode_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    let incoming = tmp.path().join("incoming.mp4");
    clip(&incoming, 16, "1920x1080");
    let server = Server::start_with_profile(&media, &tmp.path().join("data"), SLOW_LADDER, &[]);

    let dropped = Instant::now();
    std::fs::rename(&incoming, media.join("Fresh (2025).mp4")).unwrap();
    let item = server.wait_item("Fresh (2025).mp4", Duration::from_secs(30), |_| true);
    let id = item["id"].as_i64().unwrap();
    let mut master = String::new();
    server.wait(
        "a playable master playlist",
        Duration::from_secs(60),
        || {
            let (status, body) = server.get(&format!("/hls/{id}/{PROFILE}/master.m3u8"));
            master = String::from_utf8_lossy(&body).into_owned();
            status == 200 && master.contains("source/index.m3u8")
        },
    );
    let playlist = text(&server, &format!("/hls/{id}/{PROFILE}/source/index.m3u8"));
    assert!(
        playlist.contains("#EXT-X-PLAYLIST-TYPE:EVENT"),
        "{playlist}"
    );
    assert!(!playlist.contains("#EXT-X-ENDLIST"), "{playlist}");
    let (status, init) = server.get(&format!("/hls/{id}/{PROFILE}/source/init.mp4"));
    assert_eq!(status, 200);
    let (status, first) = server.get(&format!("/hls/{id}/{PROFILE}/source/seg_00000.m4s"));
    assert_eq!(status, 200);
    let first_segment_after = dropped.elapsed();
    let detail = server.json(&format!("/api/v1/items/{id}"));
    assert_eq!(
        detail["state"], "transcoding",
        "the ladder is still being encoded"
    );
    let hls_url = detail["hls_url"].as_str().unwrap();
    assert!(
        hls_url.starts_with("/s/")
            && hls_url.ends_with(&format!("/hls/{id}/{PROFILE}/master.m3u8")),
        "the package being written, signed: {hls_url}"
    );

    // What the player got decodes on its own.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), [init, first].concat()).unwrap();
    decode_all(file.path().to_str().unwrap());

    server.wait_ready("Fresh (2025).mp4");
    let playlist = text(&server, &format!("/hls/{id}/{PROFILE}/source/index.m3u8"));
    assert!(playlist.contains("#EXT-X-PLAYLIST-TYPE:VOD") && playlist.contains("#EXT-X-ENDLIST"));
    let master = text(&server, &format!("/hls/{id}/master.m3u8"));
    for rung in ["source", "720p", "360p"] {
        assert!(
            master.contains(&format!("{PROFILE}/{rung}/index.m3u8")),
            "{master}"
        );
    }
    let detail = server.json(&format!("/api/v1/items/{id}"));
    let hls_url = detail["hls_url"].as_str().unwrap();
    assert!(
        hls_url.starts_with("/s/") && hls_url.ends_with(&format!("/hls/{id}/master.m3u8")),
        "{hls_url}"
    );
    eprintln!("first segment {first_segment_after:?} after the file appeared");
}
