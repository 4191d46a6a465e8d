//! A process killed mid-transcode publishes nothing half-written, and the persisted queue
//! finishes the item after a restart.

use crate::support::*;
use std::time::Duration;

#[test]
fn killed_mid_transcode_resumes_after_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    clip(&media.join("Long (1999).mp4"), 30, "1280x720");
    let data = tmp.path().join("data");

    let mut server = Server::start(&media, &data, &[]);
    let item = server.wait_item("Long (1999).mp4", Duration::from_secs(60), |i| {
        i["state"] == "transcoding" && i["progress"].as_f64().unwrap() >= 0.1
    });
    let id = item["id"].as_i64().unwrap();
    // SIGKILL: no chance to clean up.
    server.kill();
    assert!(
        entries(&data.join("tmp")) > 0,
        "the killed transcode had a staging folder"
    );
    assert!(
        !data.join(format!("hls/{id}")).exists(),
        "a half-written package is visible"
    );

    let server = Server::start(&media, &data, &[]);
    let again = server.wait_ready("Long (1999).mp4");
    assert_eq!(again["id"], id, "the same item resumes");
    assert_eq!(entries(&data.join("tmp")), 0, "staging folders left behind");
    decode_all(&format!(
        "{}/hls/{id}/{PROFILE}/source/index.m3u8",
        server.media_base(&id.into())
    ));
    decode_all(&format!(
        "{}/hls/{id}/{PROFILE}/360p/index.m3u8",
        server.media_base(&id.into())
    ));
    assert!(
        server.log().contains("resuming transcodes interrupted"),
        "{}",
        server.log()
    );
}
