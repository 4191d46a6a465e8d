//! The one-shot commands: transcode, probe, scan, and their errors.

use crate::support::*;
use std::process::Command;

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `manofwar transcode` of `src` into `dir/out` with the test profile (written to `dir/p.yaml`).
fn transcode(src: &std::path::Path, dir: &std::path::Path) -> (bool, String, String) {
    let profile = dir.join("p.yaml");
    std::fs::write(&profile, TEST_PROFILE).unwrap();
    run(&[
        "transcode",
        "--input",
        src.to_str().unwrap(),
        "--output",
        dir.join("out").to_str().unwrap(),
        "--profile",
        profile.to_str().unwrap(),
    ])
}

#[test]
fn transcode_writes_a_package_and_a_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("in.mp4");
    clip(&src, 4, "640x360");
    let out = tmp.path().join("out");
    let (ok, stdout, stderr) = transcode(&src, tmp.path());
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("source") && stdout.contains("640x360") && stdout.contains("240p"),
        "{stdout}"
    );
    for f in [
        "master.m3u8",
        "package.json",
        "poster.jpg",
        "source/index.m3u8",
        "240p/init.mp4",
        "audio0/index.m3u8",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    decode_all(out.join("master.m3u8").to_str().unwrap());
    // Only the published folder is left: no staging folder next to it.
    assert_eq!(
        entries(tmp.path()),
        3,
        "{:?}",
        std::fs::read_dir(tmp.path()).unwrap().collect::<Vec<_>>()
    );
}

#[test]
fn no_rung_gets_more_bits_than_the_source() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("lean.mp4");
    // 150 kbit/s at 640x360; the profile asks 400 kbit/s for 240p.
    clip_with(&src, 6, "640x360", &["-b:v", "150k"]);
    let out = tmp.path().join("out");
    let (ok, _, stderr) = transcode(&src, tmp.path());
    assert!(ok, "{stderr}");
    let bytes: u64 = std::fs::read_dir(out.join("240p"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    let kbps = bytes as f64 * 8.0 / 6.0 / 1000.0;
    assert!(kbps < 250.0, "240p came out at {kbps:.0} kbit/s");
}

#[test]
fn probe_reports_streams_as_json() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("in.mkv");
    clip_with(&src, 2, "320x240", &["-metadata:s:a:0", "language=fra"]);
    let (ok, stdout, stderr) = run(&["probe", src.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let info: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(info["container"], "matroska,webm");
    let video = &info["streams"][0];
    assert_eq!(
        (
            video["codec"].as_str(),
            video["width"].as_u64(),
            video["height"].as_u64()
        ),
        (Some("h264"), Some(320), Some(240))
    );
    assert_eq!(video["frame_rate"], 30.0);
    let audio = &info["streams"][1];
    assert_eq!(
        (audio["codec"].as_str(), audio["language"].as_str()),
        (Some("aac"), Some("fra"))
    );
    assert!(audio["channels"].as_i64().unwrap() >= 1);
}

#[test]
fn errors_say_what_went_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let notes = tmp.path().join("notes.mp4");
    std::fs::write(&notes, "text").unwrap();
    let (ok, _, stderr) = run(&["probe", notes.to_str().unwrap()]);
    assert!(!ok && stderr.contains("is it a video file?"), "{stderr}");

    let (ok, _, stderr) = run(&[
        "up",
        "--media",
        "/nonexistent/films",
        "--data",
        tmp.path().to_str().unwrap(),
    ]);
    assert!(
        !ok && stderr.contains("media folder /nonexistent/films does not exist"),
        "{stderr}"
    );

    let bad = tmp.path().join("bad.yaml");
    std::fs::write(&bad, "renditions: []\n").unwrap();
    let (ok, _, stderr) = run(&[
        "transcode",
        "--input",
        notes.to_str().unwrap(),
        "--output",
        "/tmp/x",
        "--profile",
        bad.to_str().unwrap(),
    ]);
    assert!(!ok && stderr.contains("at least one rendition"), "{stderr}");
}

#[test]
fn scan_prints_the_catalog_and_rescans_incrementally() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    clip(&media.join("Film (2001).mp4"), 1, "160x120");
    clip(&media.join("Show S01E02.mkv"), 1, "160x120");
    let data = tmp.path().join("data");
    let args = [
        "scan",
        "--media",
        media.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ];
    let (ok, stdout, stderr) = run(&args);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("Film") && stdout.contains("2001") && stdout.contains("S01E02"),
        "{stdout}"
    );
    assert!(stderr.contains("2 added"), "{stderr}");
    let (_, _, stderr) = run(&args);
    assert!(
        stderr.contains("0 added") && stderr.contains("2 unchanged"),
        "{stderr}"
    );
}

/// A gateway whose HTTP other machines can reach wants a token on every route but /healthz.
#[test]
fn a_gateway_reachable_from_other_machines_wants_its_token() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("identity.key");
    let peers = tmp.path().join("peers.yaml");
    std::fs::write(&peers, "[]\n").unwrap();
    let port = free_port();
    let http = format!("0.0.0.0:{port}");
    let listen = format!("/ip4/127.0.0.1/tcp/{}", free_port());
    let mut args = vec![
        "gateway",
        "--identity",
        key.to_str().unwrap(),
        "--peers",
        peers.to_str().unwrap(),
        "--listen",
        &listen,
        "--no-lan",
        "--cache-dir",
        tmp.path().to_str().unwrap(),
        "--http",
        &http,
    ];
    let (ok, _, stderr) = run(&args);
    assert!(
        !ok && stderr.contains("give --http-token TOKEN"),
        "{stderr}"
    );

    args.extend(["--http-token", "s3cret"]);
    let mut child = Command::new(BIN)
        .args(&args)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let base = format!("http://127.0.0.1:{port}");
    let get = |path: &str, token: Option<&str>| {
        let mut req = agent.get(format!("{base}{path}"));
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        req.call().map(|r| r.status().as_u16()).unwrap_or(0)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while get("/healthz", None) != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the gateway did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let statuses = [
        get("/api/v1/peers", None),
        get("/api/v1/peers", Some("wrong")),
        get("/api/v1/peers", Some("s3cret")),
        get("/peers/x/hls/1/master.m3u8", None),
    ];
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(statuses, [401, 401, 200, 401]);
}
