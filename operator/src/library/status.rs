//! A MediaLibrary's health, from what the reconcile saw: its profiles, its server Deployment
//! and the item counts the server reports.

use super::{jobs, server};
use crate::reconcile::health::Health;
use crate::stats::Stats;

/// What one reconcile saw.
#[derive(Clone, Debug)]
pub struct Observation {
    /// Profiles the spec names that are missing or unusable, with why.
    pub bad_profiles: Vec<BadProfile>,
    /// Whether the server Deployment has rolled out and has a ready pod.
    pub server_available: bool,
    /// Item counts, or why they could not be read.
    pub stats: Result<Stats, String>,
    /// A pod of the library the scheduler cannot place: its `app.kubernetes.io/component`
    /// (the server's or the transcoders') and the scheduler's message (e.g. "0/1 nodes are available: 1 Insufficient
    /// cpu."). Looked for only while the library is not ready.
    pub unschedulable: Option<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BadProfile {
    Missing(String),
    Invalid { name: String, reason: String },
}

/// The library's health: stalled on bad profiles, progressing until the server is up and
/// every item is transcoded, ready otherwise.
pub fn health(obs: &Observation, namespace: &str) -> Health {
    if let Some(stalled) = stalled(&obs.bad_profiles, namespace) {
        return stalled;
    }
    if !obs.server_available {
        if let Some((_, why)) = obs
            .unschedulable
            .as_ref()
            .filter(|(c, _)| c == server::COMPONENT)
        {
            return Health::progressing(
                "Unschedulable",
                format!(
                    "the library server's pod cannot be scheduled: {why} ({})",
                    what_to_change(why, "spec.server.resources", namespace)
                ),
            );
        }
        return Health::progressing(
            "ServerStarting",
            "waiting for the library server Deployment to have an available pod",
        );
    }
    let stats = match &obs.stats {
        Ok(stats) => stats,
        Err(why) => {
            return Health::progressing(
                "StatsUnavailable",
                format!("cannot read item counts from the library server: {why}"),
            );
        }
    };
    if stats.unfinished() > 0 {
        if let Some((_, why)) = obs
            .unschedulable
            .as_ref()
            .filter(|(c, _)| c == jobs::COMPONENT)
        {
            return Health::progressing(
                "Unschedulable",
                format!(
                    "{} of {} items waiting: transcoder pods cannot be scheduled: {why} ({})",
                    stats.unfinished(),
                    stats.total,
                    what_to_change(why, "the profile's workers.resources.requests", namespace)
                ),
            );
        }
        return Health::progressing(
            "Transcoding",
            format!(
                "{} of {} items waiting or being transcoded",
                stats.unfinished(),
                stats.total
            ),
        );
    }
    Health::Ready {
        message: format!(
            "library server up; {} items ready, {} failed",
            stats.ready, stats.failed
        ),
    }
}

/// What the user can do about the scheduler's message `why`, for pods whose resources are set
/// in `resources`.
fn what_to_change(why: &str, resources: &str, namespace: &str) -> String {
    if why.contains("PersistentVolumeClaim") {
        format!("a claim is not bound: see kubectl get pvc -n {namespace}")
    } else if why.contains("Insufficient") {
        format!("lower {resources}, or add a node")
    } else {
        "check the node selector and the nodes' taints, or add a node".into()
    }
}

fn stalled(bad: &[BadProfile], namespace: &str) -> Option<Health> {
    let missing: Vec<&str> = bad
        .iter()
        .filter_map(|b| match b {
            BadProfile::Missing(name) => Some(name.as_str()),
            BadProfile::Invalid { .. } => None,
        })
        .collect();
    if !missing.is_empty() {
        let quoted: Vec<String> = missing.iter().map(|n| format!("{n:?}")).collect();
        let noun = if missing.len() == 1 {
            "TranscodeProfile"
        } else {
            "TranscodeProfiles"
        };
        return Some(Health::stalled(
            "ProfileNotFound",
            format!(
                "{noun} {} not found in namespace {namespace:?}: create it or remove it from spec.profiles",
                quoted.join(", ")
            ),
        ));
    }
    bad.iter().find_map(|b| match b {
        BadProfile::Invalid { name, reason } => Some(Health::stalled(
            "ProfileInvalid",
            format!("TranscodeProfile {name:?} is invalid: {reason}"),
        )),
        BadProfile::Missing(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(bad: Vec<BadProfile>, up: bool, stats: Result<Stats, String>) -> Observation {
        Observation {
            bad_profiles: bad,
            server_available: up,
            stats,
            unschedulable: None,
        }
    }

    fn stats(pending: u64, transcoding: u64) -> Stats {
        Stats {
            total: 10,
            ready: 10 - pending - transcoding,
            pending,
            transcoding,
            failed: 0,
            ..Stats::default()
        }
    }

    #[test]
    fn a_missing_profile_stalls_with_a_clear_message() {
        let bad = vec![BadProfile::Missing("hevc-4k".into())];
        let Health::Stalled { reason, message } = health(&obs(bad, true, Ok(stats(0, 0))), "media")
        else {
            panic!("not stalled")
        };
        assert_eq!(reason, "ProfileNotFound");
        assert_eq!(
            message,
            "TranscodeProfile \"hevc-4k\" not found in namespace \"media\": create it or remove it from spec.profiles"
        );
        let two = vec![
            BadProfile::Missing("a".into()),
            BadProfile::Missing("b".into()),
        ];
        let Health::Stalled { message, .. } = health(&obs(two, false, Err("x".into())), "m") else {
            panic!()
        };
        assert!(
            message.starts_with("TranscodeProfiles \"a\", \"b\" not found"),
            "{message}"
        );
    }

    #[test]
    fn an_invalid_profile_stalls() {
        let bad = vec![BadProfile::Invalid {
            name: "p".into(),
            reason: "segmentSeconds must be 1..30, got 0".into(),
        }];
        let health = health(&obs(bad, true, Ok(stats(0, 0))), "m");
        assert!(matches!(health, Health::Stalled { ref reason, .. } if reason == "ProfileInvalid"));
    }

    #[test]
    fn progress_until_the_server_is_up_and_the_queue_is_empty() {
        let reason = |h: Health| match h {
            Health::Progressing { reason, .. } => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            reason(health(&obs(vec![], false, Err("refused".into())), "m")),
            "ServerStarting"
        );
        assert_eq!(
            reason(health(&obs(vec![], true, Err("refused".into())), "m")),
            "StatsUnavailable"
        );
        assert_eq!(
            reason(health(&obs(vec![], true, Ok(stats(2, 1))), "m")),
            "Transcoding"
        );
        assert_eq!(
            reason(health(&obs(vec![], true, Ok(stats(0, 1))), "m")),
            "Transcoding"
        );
        assert_eq!(
            health(&obs(vec![], true, Ok(stats(0, 0))), "m"),
            Health::Ready {
                message: "library server up; 10 items ready, 0 failed".into()
            }
        );
    }

    #[test]
    fn unschedulable_pods_say_why_and_what_to_change() {
        let why = "0/1 nodes are available: 1 Insufficient cpu.";
        let with = |component: &str, up: bool, stats| Observation {
            unschedulable: Some((component.into(), why.into())),
            ..obs(vec![], up, stats)
        };
        let Health::Progressing { reason, message } =
            health(&with(jobs::COMPONENT, true, Ok(stats(2, 0))), "m")
        else {
            panic!()
        };
        assert_eq!(reason, "Unschedulable");
        assert_eq!(
            message,
            "2 of 10 items waiting: transcoder pods cannot be scheduled: 0/1 nodes are available: \
             1 Insufficient cpu. (lower the profile's workers.resources.requests, or add a node)"
        );
        let Health::Progressing { reason, message } =
            health(&with(server::COMPONENT, false, Err("down".into())), "m")
        else {
            panic!()
        };
        assert_eq!(reason, "Unschedulable");
        assert!(
            message.ends_with("Insufficient cpu. (lower spec.server.resources, or add a node)"),
            "{message}"
        );
        let unbound = Observation {
            unschedulable: Some((
                server::COMPONENT.into(),
                "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims.".into(),
            )),
            ..obs(vec![], false, Err("down".into()))
        };
        let Health::Progressing { message, .. } = health(&unbound, "media") else {
            panic!()
        };
        assert!(
            message.ends_with("(a claim is not bound: see kubectl get pvc -n media)"),
            "{message}"
        );
        // Once everything is transcoded, a leftover pending worker does not hold the library back.
        assert!(matches!(
            health(&with(jobs::COMPONENT, true, Ok(stats(0, 0))), "m"),
            Health::Ready { .. }
        ));
        // A pending transcoder while the server starts: the server is what the user waits for.
        assert!(matches!(
            health(&with(jobs::COMPONENT, false, Err("down".into())), "m"),
            Health::Progressing { ref reason, .. } if reason == "ServerStarting"
        ));
    }
}
