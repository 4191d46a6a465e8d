//! `manofwar serve` with remote `manofwar transcode --server` workers: claims with leases,
//! Range reads of the source, uploads published atomically, and a killed worker's item
//! taken over by the next one.

use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const TOKEN: &str = "s3cret-worker-token";

fn worker(server: &Server, profile: &Path, work: &Path, token: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["transcode", "--server", &server.base, "--work-dir"])
        .arg(work)
        .arg("--profile")
        .arg(profile)
        .env("MANOFWAR_TOKEN", token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Run a worker with `profile` until the queue is empty; it must exit 0. Returns its stdout.
fn transcode(server: &Server, profile: &Path, work: &Path) -> String {
    let out = worker(server, profile, work, TOKEN).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The server's `/internal/v1/stats`, with the worker token.
fn stats(server: &Server) -> serde_json::Value {
    let out = Command::new("curl")
        .args(["-sf", "-H", &format!("Authorization: Bearer {TOKEN}")])
        .arg(format!("{}/internal/v1/stats", server.base))
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `serve` with a profiles folder, as the operator mounts it: one `NAME.yaml` per profile.
fn serve_with_profiles(tmp: &Path, profiles: &[(&str, &str)]) -> (Server, PathBuf) {
    let dir = tmp.join("profiles");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, yaml) in profiles {
        std::fs::write(dir.join(format!("{name}.yaml")), yaml).unwrap();
    }
    let role = ["serve", "--token", TOKEN];
    let extra = ["--profiles", dir.to_str().unwrap()];
    let (media, data) = (tmp.join("media"), tmp.join("data"));
    let server = Server::start_role(&role, &media, &data, TEST_PROFILE, &extra);
    (server, dir)
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
    let out = worker(&server, &server.profile, &tmp.path().join("w0"), "wrong")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused the worker token"));
    let (status, _) = server.get("/internal/v1/stats");
    assert_eq!(status, 401);

    // A worker dies mid-item: its lease runs out and the item goes back to the queue.
    let mut doomed = worker(&server, &server.profile, &tmp.path().join("w1"), TOKEN)
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
    let stdout = transcode(&server, &server.profile, &tmp.path().join("w2"));
    assert!(stdout.contains("queue empty after 2 item(s)"));
    for name in ["A long one.mp4", "B.mp4"] {
        let item = server.wait_ready(name);
        decode_all(&format!(
            "{}/hls/{}/master.m3u8",
            server.media_base(&item["id"]),
            item["id"]
        ));
    }
    let a = server
        .items()
        .into_iter()
        .find(|i| i["title"] == "A long one")
        .unwrap();
    assert!(
        !data
            .join(format!("tmp/{}.{PROFILE}.upload", a["id"]))
            .exists(),
        "upload staging left behind"
    );

    let stats = stats(&server);
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

#[test]
fn editing_a_profile_queues_what_it_made_again() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    clip(&media.join("Clip.mp4"), 6, "640x360");
    let (server, profiles) = serve_with_profiles(tmp.path(), &[("standard", TEST_PROFILE)]);
    let standard = profiles.join("standard.yaml");
    let segments = |id: &serde_json::Value| {
        text(&server, &format!("/hls/{id}/standard/source/index.m3u8"))
            .lines()
            .filter(|l| l.starts_with("#EXTINF"))
            .count()
    };
    server.wait_item("Clip.mp4", Duration::from_secs(20), |i| {
        i["state"] == "pending"
    });
    transcode(&server, &standard, &tmp.path().join("w1"));
    let id = server.wait_ready("Clip.mp4")["id"].clone();
    assert_eq!(segments(&id), 3, "6 s in 2 s segments");

    let edited = TEST_PROFILE.replace("segmentSeconds: 2", "segmentSeconds: 3");
    std::fs::write(&standard, edited).unwrap();
    server.wait_item("Clip.mp4", Duration::from_secs(30), |i| {
        i["state"] == "pending"
    });
    assert_eq!(
        segments(&id),
        3,
        "the old package is served until the new one is ready"
    );
    transcode(&server, &standard, &tmp.path().join("w2"));
    server.wait_ready("Clip.mp4");
    assert_eq!(segments(&id), 2, "6 s in 3 s segments");
    assert!(
        server.log().contains("profiles changed"),
        "{}",
        server.log()
    );
}

#[test]
fn every_profile_makes_its_own_package_and_the_master_offers_them_all() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    clip(&media.join("Clip.mp4"), 4, "640x360");
    let data = tmp.path().join("data");
    let mobile_ladder = "segmentSeconds: 2\npreset: ultrafast\nsourceRung: false\n\
                         renditions:\n  - {name: 180p, height: 180, videoBitrateKbps: 150}\n";
    let (server, profiles) = serve_with_profiles(
        tmp.path(),
        &[("standard", TEST_PROFILE), ("mobile", mobile_ladder)],
    );
    let (standard, mobile) = (profiles.join("standard.yaml"), profiles.join("mobile.yaml"));
    let work = |name: &str| tmp.path().join(name);
    let stats = || stats(&server);
    let uris = |master: &str| -> Vec<String> {
        variants(master).into_iter().map(|(_, uri)| uri).collect()
    };
    let id = server.wait_item("Clip.mp4", Duration::from_secs(20), |i| {
        i["state"] == "pending"
    })["id"]
        .clone();
    assert_eq!(
        stats()["claimableByProfile"],
        serde_json::json!({"mobile": 1, "standard": 1})
    );

    // The mobile package alone: the item plays, with the mobile variant only.
    assert!(transcode(&server, &mobile, &work("w1")).contains("queue empty after 1 item(s)"));
    let item = server.json(&format!("/api/v1/items/{id}"));
    assert_eq!(item["state"], "pending", "standard is still to be made");
    let packages: Vec<(&str, &str)> = item["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["profile"].as_str().unwrap(), p["state"].as_str().unwrap()))
        .collect();
    assert_eq!(packages, [("mobile", "ready"), ("standard", "pending")]);
    assert_eq!(item["hls_url"], format!("/hls/{id}/master.m3u8"));
    let master = text(&server, &format!("/hls/{id}/master.m3u8"));
    assert_eq!(uris(&master), ["mobile/180p/index.m3u8"], "{master}");
    assert_eq!(
        stats()["claimableByProfile"],
        serde_json::json!({"standard": 1})
    );

    // Then standard: one master over both packages, highest bandwidth first; each decodes.
    assert!(transcode(&server, &standard, &work("w2")).contains("queue empty after 1 item(s)"));
    let item = server.wait_ready("Clip.mp4");
    let master = text(&server, &format!("/hls/{id}/master.m3u8"));
    assert_eq!(
        uris(&master),
        [
            "standard/source/index.m3u8",
            "standard/240p/index.m3u8",
            "mobile/180p/index.m3u8"
        ],
        "{master}"
    );
    for uri in uris(&master) {
        decode_all(&format!("{}/hls/{id}/{uri}", server.media_base(&id)));
    }
    for group in ["standard-aac", "mobile-aac"] {
        assert!(
            master.contains(&format!("GROUP-ID=\"{group}\"")),
            "{master}"
        );
    }
    let detail = server.json(&format!("/api/v1/items/{}", item["id"]));
    let profiles_of: Vec<&str> = detail["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["profile"].as_str().unwrap())
        .collect();
    assert_eq!(profiles_of, ["standard", "standard", "mobile"]);
    assert_eq!(
        detail["thumbnails_url"],
        format!("/hls/{id}/mobile/thumbs/thumbnails.vtt"),
        "the first profile's thumbnails"
    );
    let (status, _) = server.get(&format!("/api/v1/items/{id}/poster"));
    assert_eq!(status, 200);

    // A worker of a profile the library does not use gets nothing.
    let other = profiles.with_file_name("hevc.yaml");
    std::fs::write(&other, TEST_PROFILE).unwrap();
    assert!(transcode(&server, &other, &work("w3")).contains("queue empty after 0 item(s)"));

    // The library drops mobile: its package leaves the master and the disk.
    std::fs::remove_file(&mobile).unwrap();
    server.wait(
        "mobile gone from the master",
        Duration::from_secs(30),
        || !text(&server, &format!("/hls/{id}/master.m3u8")).contains("mobile/"),
    );
    assert!(!data.join(format!("hls/{id}/mobile")).exists());
    assert_eq!(server.wait_ready("Clip.mp4")["state"], "ready");

    // A profile file that does not parse changes nothing: no package is dropped or queued.
    let broken = profiles.join("broken.yaml");
    std::fs::write(&broken, "renditions: 7").unwrap();
    server.wait(
        "the broken profile noticed",
        Duration::from_secs(30),
        || server.log().contains("cannot read the profiles"),
    );
    assert_eq!(server.wait_ready("Clip.mp4")["state"], "ready");
    std::fs::remove_file(&broken).unwrap();

    // Renamed (standard → hd): the standard package is served until hd's is published.
    std::fs::rename(&standard, profiles.join("hd.yaml")).unwrap();
    server.wait("hd queued", Duration::from_secs(30), || {
        stats()["claimableByProfile"] == serde_json::json!({"hd": 1})
    });
    assert_eq!(
        uris(&text(&server, &format!("/hls/{id}/master.m3u8")))[0],
        "standard/source/index.m3u8",
        "still playable while hd is made"
    );
    transcode(&server, &profiles.join("hd.yaml"), &work("w4"));
    server.wait_ready("Clip.mp4");
    let master = text(&server, &format!("/hls/{id}/master.m3u8"));
    assert!(
        uris(&master).iter().all(|u| u.starts_with("hd/")),
        "{master}"
    );
    assert!(!data.join(format!("hls/{id}/standard")).exists());
}
