//! Transcoder Jobs: what they look like, and when they are created, replaced or deleted.

use super::*;
use crate::testing;
use k8s_openapi::api::batch::v1::JobCondition;
use k8s_openapi::api::batch::v1::JobStatus;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::json;

const GPU_PROFILE: &str = "
workers:
  parallelism: 3
  resources: {limits: {nvidia.com/gpu: 1}}
  nodeSelector: {gpu: 'true'}
  tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
";

fn standard_job() -> Job {
    let profile = testing::profile("standard", GPU_PROFILE);
    job(&testing::library(), &profile, &Settings::for_tests()).unwrap()
}

#[test]
fn a_job_runs_manofwar_transcode_against_the_library_service() {
    let j = serde_json::to_value(standard_job()).unwrap();
    assert_eq!(j["apiVersion"], "batch/v1");
    let name = j["metadata"]["name"].as_str().unwrap();
    assert!(
        name.starts_with("movies-standard-") && name.len() == "movies-standard-".len() + 8,
        "{name}"
    );
    assert_eq!(j["metadata"]["ownerReferences"][0]["kind"], "MediaLibrary");
    assert_eq!(j["metadata"]["labels"]["manofwar.io/profile"], "standard");
    assert_eq!(
        j["metadata"]["labels"]["app.kubernetes.io/component"],
        "transcoder"
    );
    let spec = &j["spec"];
    assert_eq!(spec["parallelism"], 3);
    assert!(
        spec.get("completions").is_none(),
        "a work queue: done when a worker exits 0"
    );
    assert_eq!(spec["backoffLimit"], 4);
    assert_eq!(spec["ttlSecondsAfterFinished"], 600);
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(pod["nodeSelector"], json!({"gpu": "true"}));
    assert_eq!(
        pod["tolerations"],
        json!([{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}])
    );
    let c = &pod["containers"][0];
    assert_eq!(c["command"], json!(["manofwar"]));
    assert_eq!(
        c["args"],
        json!([
            "transcode",
            "--server",
            "http://movies.media.svc:8096",
            "--profile",
            "/etc/manofwar/profiles/standard.yaml",
            "--work-dir",
            "/work"
        ])
    );
    assert_eq!(c["resources"], json!({"limits": {"nvidia.com/gpu": "1"}}));
    assert_eq!(
        pod["volumes"][0],
        json!({"name": "profile", "configMap": {"name": "movies-profiles", "items": [{"key": "standard.yaml", "path": "standard.yaml"}]}})
    );
    let env = c["env"].as_array().unwrap();
    assert!(env.iter().any(|e| e["name"] == "MANOFWAR_TOKEN"
        && e["valueFrom"]["secretKeyRef"]["name"] == "movies-worker-token"));
}

#[test]
fn the_name_changes_with_the_profile_and_the_image() {
    let lib = testing::library();
    let settings = Settings::for_tests();
    let name = |profile: &TranscodeProfile, settings: &Settings| {
        job(&lib, profile, settings).unwrap().metadata.name.unwrap()
    };
    let a = testing::profile("standard", "{}");
    let b = testing::profile("standard", "segmentSeconds: 4");
    assert_eq!(name(&a, &settings), name(&a.clone(), &settings), "stable");
    assert_ne!(name(&a, &settings), name(&b, &settings));
    let other_image = Settings {
        image: "ghcr.io/manofwar/manofwar:next".into(),
        ..Settings::for_tests()
    };
    assert_ne!(name(&a, &settings), name(&a, &other_image));
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn observed(name: &str, finished: Option<(&str, bool)>) -> Observed {
    Observed {
        name: name.into(),
        finished: finished.map(|(t, failed)| Finished { at: at(t), failed }),
    }
}

fn names(steps: &[Step]) -> Vec<String> {
    steps
        .iter()
        .map(|s| match s {
            Step::Create(job) => format!("create {}", job.metadata.name.as_deref().unwrap()),
            Step::Delete(name) => format!("delete {name}"),
            Step::Recheck(d) => format!("recheck {}s", d.as_secs()),
            Step::Failed(name) => format!("failed {name}"),
        })
        .collect()
}

#[test]
fn jobs_are_created_only_while_items_are_queued() {
    let job = standard_job();
    let name = job.metadata.name.clone().unwrap();
    let now = at("2025-01-01T00:10:00Z");
    assert!(plan(vec![job.clone()], &[], |_| 0, now).is_empty());
    assert_eq!(
        names(&plan(vec![job.clone()], &[], |_| 5, now)),
        [format!("create {name}")]
    );
    let running = observed(&name, None);
    assert!(
        plan(vec![job], &[running], |_| 5, now).is_empty(),
        "one Job at a time"
    );
}

#[test]
fn each_profile_gets_a_job_only_for_its_own_queue() {
    let standard = standard_job();
    let mobile = job(
        &testing::library(),
        &testing::profile("mobile", "{}"),
        &Settings::for_tests(),
    )
    .unwrap();
    let now = at("2025-01-01T00:10:00Z");
    let queued = |profile: &str| u64::from(profile == "mobile");
    assert_eq!(
        names(&plan(vec![standard, mobile.clone()], &[], queued, now)),
        [format!("create {}", mobile.metadata.name.unwrap())]
    );
}

#[test]
fn a_finished_job_is_replaced_after_the_cooldown() {
    let job = standard_job();
    let name = job.metadata.name.clone().unwrap();
    let now = at("2025-01-01T00:10:00Z");
    let just_done = observed(&name, Some(("2025-01-01T00:09:50Z", false)));
    assert_eq!(
        names(&plan(
            vec![job.clone()],
            std::slice::from_ref(&just_done),
            |_| 3,
            now
        )),
        ["recheck 10s"]
    );
    assert!(
        plan(vec![job.clone()], &[just_done], |_| 0, now).is_empty(),
        "nothing queued: keep it"
    );
    let long_done = observed(&name, Some(("2025-01-01T00:05:00Z", false)));
    assert_eq!(
        names(&plan(vec![job.clone()], &[long_done], |_| 3, now)),
        [format!("delete {name}"), "recheck 2s".into()]
    );
    let failed = observed(&name, Some(("2025-01-01T00:09:55Z", true)));
    assert_eq!(
        names(&plan(vec![job], &[failed], |_| 3, now)),
        [format!("failed {name}"), "recheck 15s".into()]
    );
}

#[test]
fn outdated_running_jobs_are_deleted() {
    let job = standard_job();
    let now = at("2025-01-01T00:10:00Z");
    let outdated = observed("movies-standard-00000000", None);
    let outdated_done = observed(
        "movies-standard-11111111",
        Some(("2025-01-01T00:00:00Z", false)),
    );
    let steps = plan(
        vec![job.clone()],
        &[outdated.clone(), outdated_done],
        |_| 0,
        now,
    );
    assert_eq!(
        names(&steps),
        ["delete movies-standard-00000000"],
        "finished ones expire by TTL"
    );
    let steps = plan(vec![job.clone()], &[outdated], |_| 2, now);
    assert_eq!(
        names(&steps),
        [
            "delete movies-standard-00000000".to_string(),
            format!("create {}", job.metadata.name.unwrap())
        ]
    );
}

#[test]
fn observed_reads_the_finished_condition() {
    let condition = |type_: &str| JobCondition {
        type_: type_.into(),
        status: "True".into(),
        last_transition_time: Some(Time(at("2025-01-01T00:00:00Z"))),
        ..JobCondition::default()
    };
    let mut job = standard_job();
    assert_eq!(Observed::of(&job).finished, None);
    job.status = Some(JobStatus {
        conditions: Some(vec![condition("SuccessCriteriaMet"), condition("Complete")]),
        ..JobStatus::default()
    });
    assert_eq!(
        Observed::of(&job).finished,
        Some(Finished {
            at: at("2025-01-01T00:00:00Z"),
            failed: false
        })
    );
    job.status = Some(JobStatus {
        conditions: Some(vec![condition("FailureTarget"), condition("Failed")]),
        ..JobStatus::default()
    });
    assert!(Observed::of(&job).finished.unwrap().failed);
}
