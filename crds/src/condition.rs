//! Status conditions shared by every kind: the `Ready`, `Reconciling` and `Stalled` types that
//! kstatus (Flux) and the Argo CD health check read, and small helpers to keep a list of them.
//!
//! The list is a map keyed by `type` (`x-kubernetes-list-type: map`), so server-side apply
//! merges conditions by type. `lastTransitionTime` changes only when a condition's status does.

pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// The resource is serving / usable; `True` only once its children are in place and healthy.
pub const READY: &str = "Ready";
/// The operator is working towards the spec (children being created, items transcoding).
pub const RECONCILING: &str = "Reconciling";
/// Progress is impossible until someone changes something (a missing profile, a bad secret).
pub const STALLED: &str = "Stalled";

/// `status` values of a condition.
pub const TRUE: &str = "True";
pub const FALSE: &str = "False";
pub const UNKNOWN: &str = "Unknown";

/// The condition of this type, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of this type is present with status `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find(conditions, type_).is_some_and(|c| c.status == TRUE)
}

/// Replace or add `new` by type. When the status is unchanged the previous
/// `lastTransitionTime` is kept, as the Kubernetes API conventions ask.
pub fn upsert(conditions: &mut Vec<Condition>, mut new: Condition) {
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        Some(old) => {
            if old.status == new.status {
                new.last_transition_time = old.last_transition_time.clone();
            }
            *old = new;
        }
        None => conditions.push(new),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(type_: &str, status: &str, at: &str) -> Condition {
        Condition {
            type_: type_.into(),
            status: status.into(),
            reason: "Test".into(),
            message: String::new(),
            observed_generation: Some(1),
            last_transition_time: Time(at.parse().unwrap()),
        }
    }

    #[test]
    fn upsert_keeps_transition_time_while_status_holds() {
        let mut list = vec![cond(READY, FALSE, "2025-01-01T00:00:00Z")];
        upsert(&mut list, cond(READY, FALSE, "2025-01-02T00:00:00Z"));
        assert_eq!(
            list[0].last_transition_time.0.to_string(),
            "2025-01-01T00:00:00Z"
        );
        upsert(&mut list, cond(READY, TRUE, "2025-01-03T00:00:00Z"));
        assert_eq!(
            list[0].last_transition_time.0.to_string(),
            "2025-01-03T00:00:00Z"
        );
        upsert(&mut list, cond(STALLED, FALSE, "2025-01-03T00:00:00Z"));
        assert_eq!(list.len(), 2);
        assert!(is_true(&list, READY));
        assert!(!is_true(&list, STALLED));
        assert!(find(&list, RECONCILING).is_none());
    }
}
