//! `manofwar serve` with remote `manofwar transcode --server` workers: claims with leases,
//! Range reads of the source, uploads published atomically, and a killed worker's item
//! taken over by the next one.

use crate::support::*;
use std::process::{Command, Stdio};
use std::time::Duration;

const TOKEN: &str = "s3cret-worker-token";

fn worker(server: &Server, work: &std::path::Path, token: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["transcode", "--server", &server.base, "--work-dir"])
        .arg(work)
        .arg("--profile")
        .arg(server.data.with_extension("profile.yaml"))
        .env("MANOFWAR_TOKEN", token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

#[test]
fn remote_workers_drain_the_queue_and_survive_a_killed_worker() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    clip(&media.join("A long one.mp4"), 24, "1280x720");
    clip(&media.join("B.mp4"), 3, "640x360");
    let data = tmp.path().join("data");
    let role = ["serve", "--token", TOKEN, "--lease-seconds", "2"];
    let server = Server::start_role(&role, &media, &data, TEST_PROFILE, &[]);
    server.wait_item("B.mp4", Duration::from_secs(20), |i| {
        i["state"] == "pending"
    });

    // Without the token the queue is closed.
    let out = worker(&server, &tmp.path().join("w0"), "wrong")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused the worker token"));
    let (status, _) = server.get("/internal/v1/stats");
    assert_eq!(status, 401);

    // A worker dies mid-item: its lease runs out and the item goes back to the queue.
    let mut doomed = worker(&server, &tmp.path().join("w1"), TOKEN)
        .spawn()
        .unwrap();
    server.wait_item("A long one.mp4", Duration::from_secs(30), |i| {
        i["state"] == "transcoding" && i["progress"].as_f64().unwrap() > 0.0
    });
    doomed.kill().unwrap();
    doomed.wait().unwrap();
    server.wait_item("A long one.mp4", Duration::from_secs(30), |i| {
        i["state"] == "pending"
    });

    // The next worker finishes everything and exits 0 when the queue is empty.
    let out = worker(&server, &tmp.path().join("w2"), TOKEN)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("queue empty after 2 item(s)"));
    for name in ["A long one.mp4", "B.mp4"] {
        let item = server.wait_ready(name);
        decode_all(&format!("{}/hls/{}/master.m3u8", server.base, item["id"]));
    }
    let a = server
        .items()
        .into_iter()
        .find(|i| i["title"] == "A long one")
        .unwrap();
    assert!(
        !data.join(format!("tmp/{}.upload", a["id"])).exists(),
        "upload staging left behind"
    );

    let mut stats = Command::new("curl");
    stats
        .args(["-sf", "-H", &format!("Authorization: Bearer {TOKEN}")])
        .arg(format!("{}/internal/v1/stats", server.base));
    let stats: serde_json::Value = serde_json::from_slice(&stats.output().unwrap().stdout).unwrap();
    assert_eq!(
        (stats["total"].as_i64(), stats["ready"].as_i64()),
        (Some(2), Some(2)),
        "{stats}"
    );
    assert!(
        server.log().contains("stopped heartbeating"),
        "{}",
        server.log()
    );
}
