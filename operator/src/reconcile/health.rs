//! A resource's health as the three conditions kstatus and Argo CD read (`Ready`,
//! `Reconciling`, `Stalled`), and the transitions worth a Kubernetes Event.

use k8s_openapi::api::apps::v1::Deployment;
use kube::runtime::events::EventType;
use manofwar_crds::condition::{self, Condition, FALSE, READY, RECONCILING, STALLED, TRUE, Time};

/// Where a resource stands after a reconcile. Every variant sets all three conditions, so
/// `Ready` is present from the first reconcile on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// Everything is in place: Ready=True.
    Ready { message: String },
    /// Work in progress (children starting, items transcoding): Reconciling=True, Ready=False.
    Progressing { reason: String, message: String },
    /// Someone has to change something: Stalled=True, Ready=False.
    Stalled { reason: String, message: String },
}

impl Health {
    pub fn progressing(reason: &str, message: impl Into<String>) -> Self {
        Self::Progressing {
            reason: reason.into(),
            message: message.into(),
        }
    }

    pub fn stalled(reason: &str, message: impl Into<String>) -> Self {
        Self::Stalled {
            reason: reason.into(),
            message: message.into(),
        }
    }

    /// The conditions for this health, merged into `old` so that a condition whose status did
    /// not change keeps its `lastTransitionTime`.
    pub fn conditions(
        &self,
        old: &[Condition],
        generation: Option<i64>,
        now: Time,
    ) -> Vec<Condition> {
        let make = |type_: &str, status: &str, reason: &str, message: &str| Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message: message.into(),
            observed_generation: generation,
            last_transition_time: now.clone(),
        };
        let list = match self {
            Self::Ready { message } => [
                make(READY, TRUE, "Ready", message),
                make(RECONCILING, FALSE, "Ready", ""),
                make(STALLED, FALSE, "Ready", ""),
            ],
            Self::Progressing { reason, message } => [
                make(READY, FALSE, reason, message),
                make(RECONCILING, TRUE, reason, message),
                make(STALLED, FALSE, reason, ""),
            ],
            Self::Stalled { reason, message } => [
                make(READY, FALSE, reason, message),
                make(RECONCILING, FALSE, reason, ""),
                make(STALLED, TRUE, reason, message),
            ],
        };
        let mut conditions = old.to_vec();
        for c in list {
            condition::upsert(&mut conditions, c);
        }
        conditions
    }
}

/// An Event to publish about a transition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub type_: EventType,
    pub reason: String,
    pub note: String,
}

/// The Events a change of conditions from `old` to `new` deserves: becoming ready, stalling,
/// and losing readiness.
pub fn transitions(old: &[Condition], new: &[Condition]) -> Vec<Transition> {
    let was = |t| condition::is_true(old, t);
    let is = |t| condition::is_true(new, t);
    let find = |t| {
        condition::find(new, t)
            .map(|c| (c.reason.clone(), c.message.clone()))
            .unwrap_or_default()
    };
    let mut events = Vec::new();
    if is(READY) && !was(READY) {
        events.push(Transition {
            type_: EventType::Normal,
            reason: "Ready".into(),
            note: find(READY).1,
        });
    }
    if is(STALLED) && !was(STALLED) {
        let (reason, note) = find(STALLED);
        events.push(Transition {
            type_: EventType::Warning,
            reason,
            note,
        });
    }
    if was(READY) && !is(READY) && !is(STALLED) {
        let (reason, message) = find(READY);
        events.push(Transition {
            type_: EventType::Warning,
            reason: "NotReady".into(),
            note: format!("{reason}: {message}"),
        });
    }
    events
}

/// Whether a Deployment has rolled out its current spec and has an available pod.
pub fn deployment_available(deployment: &Deployment) -> bool {
    let generation = deployment.metadata.generation.unwrap_or_default();
    deployment.status.as_ref().is_some_and(|s| {
        s.observed_generation.unwrap_or_default() >= generation
            && s.updated_replicas.unwrap_or_default() >= 1
            && s.available_replicas.unwrap_or_default() >= 1
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use manofwar_crds::condition::find;

    fn at(s: &str) -> Time {
        Time(s.parse().unwrap())
    }

    #[test]
    fn every_health_sets_all_three_conditions() {
        for health in [
            Health::Ready {
                message: "up".into(),
            },
            Health::progressing("ServerStarting", "waiting"),
            Health::stalled("ProfileNotFound", "no profile x"),
        ] {
            let list = health.conditions(&[], Some(2), at("2025-01-01T00:00:00Z"));
            assert_eq!(list.len(), 3);
            assert!(list.iter().all(|c| c.observed_generation == Some(2)));
            let ready = find(&list, READY).unwrap();
            assert_eq!(ready.status == TRUE, matches!(health, Health::Ready { .. }));
        }
        let stalled = Health::stalled("ProfileNotFound", "no profile x").conditions(
            &[],
            None,
            at("2025-01-01T00:00:00Z"),
        );
        assert_eq!(find(&stalled, STALLED).unwrap().status, TRUE);
        assert_eq!(find(&stalled, STALLED).unwrap().message, "no profile x");
        assert_eq!(find(&stalled, RECONCILING).unwrap().status, FALSE);
    }

    #[test]
    fn transition_time_moves_only_with_the_status() {
        let t0 = at("2025-01-01T00:00:00Z");
        let t1 = at("2025-01-02T00:00:00Z");
        let first = Health::progressing("ServerStarting", "a").conditions(&[], Some(1), t0.clone());
        let second =
            Health::progressing("Transcoding", "b").conditions(&first, Some(1), t1.clone());
        assert_eq!(find(&second, READY).unwrap().last_transition_time, t0);
        assert_eq!(find(&second, READY).unwrap().reason, "Transcoding");
        let ready = Health::Ready {
            message: "c".into(),
        }
        .conditions(&second, Some(1), t1.clone());
        assert_eq!(find(&ready, READY).unwrap().last_transition_time, t1);
        assert_eq!(find(&ready, STALLED).unwrap().last_transition_time, t0);
    }

    #[test]
    fn events_on_ready_stalled_and_lost_readiness() {
        let t = at("2025-01-01T00:00:00Z");
        let starting = Health::progressing("ServerStarting", "w").conditions(&[], None, t.clone());
        let ready = Health::Ready {
            message: "up".into(),
        }
        .conditions(&starting, None, t.clone());
        let stalled =
            Health::stalled("ProfileNotFound", "gone").conditions(&ready, None, t.clone());
        let busy = Health::progressing("Transcoding", "3 pending").conditions(&ready, None, t);

        assert_eq!(transitions(&[], &starting), vec![]);
        let became_ready = transitions(&starting, &ready);
        assert_eq!(became_ready.len(), 1);
        assert_eq!(
            (became_ready[0].type_, became_ready[0].reason.as_str()),
            (EventType::Normal, "Ready")
        );
        assert_eq!(transitions(&ready, &ready), vec![]);
        let stall = transitions(&ready, &stalled);
        assert_eq!(stall.len(), 1, "stalling says why, once: {stall:?}");
        assert_eq!(stall[0].reason, "ProfileNotFound");
        assert_eq!(stall[0].type_, EventType::Warning);
        let lost = transitions(&ready, &busy);
        assert_eq!(lost[0].reason, "NotReady");
        assert_eq!(lost[0].note, "Transcoding: 3 pending");
    }
}
