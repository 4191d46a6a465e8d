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
