//! The media folders are watched: additions, renames and deletions show up on their own.

use crate::support::*;
use std::time::Duration;

#[test]
fn folder_changes_show_up_in_the_library() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    std::fs::create_dir_all(media.join("Shows")).unwrap();
    // Scan and serve only: this test is about the catalog, not transcoding.
    let server = Server::start(&media, &tmp.path().join("data"), &["--workers", "0"]);
    assert!(server.items().is_empty());

    // Write elsewhere and move in, as a finished download would arrive.
    let staging = tmp.path().join("incoming.mp4");
    clip(&staging, 2, "320x240");
    std::fs::rename(&staging, media.join("Shows/My Show S02E05.mp4")).unwrap();
    std::fs::write(media.join("Shows/readme.txt"), "not media").unwrap();
    let added = server.wait_item("My Show S02E05.mp4", Duration::from_secs(20), |_| true);
    assert_eq!(
        (
            added["title"].as_str(),
            added["season"].as_i64(),
            added["episode"].as_i64()
        ),
        (Some("My Show"), Some(2), Some(5))
    );
    assert_eq!(added["state"], "pending");

    std::fs::rename(
        media.join("Shows/My Show S02E05.mp4"),
        media.join("Shows/My Show S02E06.mp4"),
    )
    .unwrap();
    let renamed = server.wait_item("My Show S02E06.mp4", Duration::from_secs(20), |_| true);
    assert_eq!(renamed["id"], added["id"], "a rename keeps the item");
    assert_eq!(server.items().len(), 1);

    std::fs::remove_file(media.join("Shows/My Show S02E06.mp4")).unwrap();
    server.wait(
        "the deleted file to leave the library",
        Duration::from_secs(20),
        || server.items().is_empty(),
    );
}

#[test]
fn scan_now_looks_at_the_folder_at_once_and_only_for_admins() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    let data = tmp.path().join("data");
    // No rescan for an hour and no folder change: only "scan now" can scan again.
    let server = Server::start(
        &media,
        &data,
        &["--workers", "0", "--scan-interval", "3600"],
    );
    let last_scan = || server.json("/api/v1/libraries")["libraries"][0]["last_scan_ms"].as_i64();
    server.wait("the first scan", Duration::from_secs(20), || {
        last_scan().is_some()
    });
    let first = last_scan().unwrap();
    assert_eq!(
        server.json("/api/v1/libraries")["libraries"][0]["scanning"],
        false
    );

    let (status, body) = server.post("/api/v1/libraries/media/scan");
    assert_eq!(
        (status, &body["library"]),
        (202, &serde_json::json!("media"))
    );
    server.wait("the asked-for scan", Duration::from_secs(20), || {
        last_scan().is_some_and(|t| t > first)
    });
    assert_eq!(server.post("/api/v1/libraries/films/scan").0, 404);

    add_user(&data, "ann", "member", &["media"]);
    let token = create_token(&data, "ann");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let answer = agent
        .post(format!("{}/api/v1/libraries/media/scan", server.base))
        .header("authorization", format!("Bearer {token}"))
        .send_empty()
        .unwrap();
    assert_eq!(answer.status().as_u16(), 403, "a member may not scan");
}
