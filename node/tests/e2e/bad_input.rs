//! Bad input ends as `failed` with a readable error; nothing half-written is published and
//! the server keeps serving everything else.

use crate::support::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn truncate(path: &Path, keep: f64) {
    let bytes = std::fs::read(path).unwrap();
    std::fs::write(path, &bytes[..(bytes.len() as f64 * keep) as usize]).unwrap();
}

fn error_of(server: &Server, name: &str) -> String {
    let item = server.wait_item(name, Duration::from_secs(120), |i| i["state"] == "failed");
    item["error"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn broken_files_fail_with_reasons_and_the_rest_still_plays() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    clip(&media.join("Good.mp4"), 3, "320x240");
    // MP4 with its index at the end, cut in half: unreadable.
    clip(&media.join("Cut index.mp4"), 6, "320x240");
    truncate(&media.join("Cut index.mp4"), 0.5);
    // Matroska cut at 40%: readable header claiming 10 s, but only 4 s of video.
    clip(&media.join("Cut stream.mkv"), 10, "320x240");
    truncate(&media.join("Cut stream.mkv"), 0.4);
    // Garbage over the middle 40% of the file.
    clip(&media.join("Scrambled.mkv"), 10, "320x240");
    let mut bytes = std::fs::read(media.join("Scrambled.mkv")).unwrap();
    let n = bytes.len();
    for (i, b) in bytes[n * 3 / 10..n * 7 / 10].iter_mut().enumerate() {
        *b = (i * 7919 % 251) as u8;
    }
    std::fs::write(media.join("Scrambled.mkv"), bytes).unwrap();
    std::fs::write(media.join("Notes.mp4"), "these are my notes, not a video\n").unwrap();
    std::fs::write(media.join("Empty.mkv"), "").unwrap();
    std::fs::write(media.join("cover.jpg"), "not media, ignored").unwrap();

    let data = tmp.path().join("data");
    let server = Server::start(
        &media,
        &data,
        &["--max-attempts", "2", "--retry-backoff", "0.2"],
    );
    server.wait_ready("Good.mp4");
    assert!(
        error_of(&server, "Cut index.mp4").contains("cannot read"),
        "cut index"
    );
    assert!(error_of(&server, "Notes.mp4").contains("is it a video file?"));
    assert!(error_of(&server, "Empty.mkv").contains("empty (0 bytes)"));
    let cut = error_of(&server, "Cut stream.mkv");
    assert!(cut.contains("truncated or damaged"), "{cut}");
    let scrambled = error_of(&server, "Scrambled.mkv");
    assert!(scrambled.contains("truncated or damaged"), "{scrambled}");

    let items = server.items();
    assert_eq!(items.len(), 6, "cover.jpg is not media: {items:?}");
    for item in items.iter().filter(|i| i["state"] == "failed") {
        let id = item["id"].as_i64().unwrap();
        assert!(
            !data.join(format!("hls/{id}")).exists(),
            "failed item {id} was published"
        );
    }
    assert_eq!(entries(&data.join("tmp")), 0, "staging folders left behind");
    let good = items.iter().find(|i| i["title"] == "Good").unwrap();
    let (status, _) = server.get(&format!("/hls/{}/master.m3u8", good["id"]));
    assert_eq!(status, 200);
}

#[test]
fn a_file_that_vanishes_mid_transcode_fails_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    clip(&media.join("Other.mp4"), 2, "320x240");
    clip(&media.join("Vanishing.mp4"), 40, "1280x720");
    let data = tmp.path().join("data");
    let server = Server::start(&media, &data, &["--workers", "1"]);
    let item = server.wait_item("Vanishing.mp4", Duration::from_secs(60), |i| {
        i["state"] == "transcoding" && i["progress"].as_f64().unwrap() > 0.0
    });
    std::fs::remove_file(media.join("Vanishing.mp4")).unwrap();
    let error = error_of(&server, "Vanishing.mp4");
    assert!(error.contains("vanished"), "{error}");
    assert!(!data.join(format!("hls/{}", item["id"])).exists());
    assert_eq!(entries(&data.join("tmp")), 0, "staging folders left behind");
    server.wait_ready("Other.mp4");
}

/// A tmpfs mount, unmounted on drop.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "the full-disk test mounts a tmpfs and needs root"
        );
        Tmpfs(path.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_fails_the_item_and_keeps_serving() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    // High-bitrate 1280x720: the package is far bigger than the 3 MiB data folder.
    clip(&media.join("Big.mp4"), 12, "1280x720");
    let data = tmp.path().join("data");
    let _mount = Tmpfs::mount(&data, "3m");
    let server = Server::start(
        &media,
        &data,
        &["--max-attempts", "2", "--retry-backoff", "0.2"],
    );
    let error = error_of(&server, "Big.mp4");
    assert!(error.contains("No space left on device"), "{error}");
    assert!(!data.join("hls/1").exists(), "half a package was published");
    assert_eq!(entries(&data.join("tmp")), 0, "staging folders left behind");
    let (status, _) = server.get("/api/v1/items");
    assert_eq!(status, 200);
}
