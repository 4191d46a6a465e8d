//! Names of a library's children, and the labels they are found by.

use manofwar_crds::MediaLibrary;

/// Label on every child of a library: the library's name.
pub const LIBRARY_LABEL: &str = "manofwar.io/library";
/// Label on transcoder Jobs: the profile they run.
pub const PROFILE_LABEL: &str = "manofwar.io/profile";

/// The library's name: also the name of its Deployment, Service and Ingress.
pub fn name(lib: &MediaLibrary) -> String {
    lib.metadata.name.clone().unwrap_or_default()
}

/// The Secret with the token the workers present to the library server.
pub fn token_secret(library: &str) -> String {
    format!("{library}-worker-token")
}

/// The ConfigMap with the library's profiles as YAML files.
pub fn profiles_config_map(library: &str) -> String {
    format!("{library}-profiles")
}

/// The ConfigMap key (and file name) of a profile.
pub fn profile_file(profile: &str) -> String {
    format!("{profile}.yaml")
}

/// The claim with the catalog and HLS output: the existing one the spec names, or the one the
/// operator creates.
pub fn data_claim(lib: &MediaLibrary) -> String {
    match &lib.spec.storage.existing_claim {
        Some(claim) => claim.clone(),
        None => format!("{}-data", name(lib)),
    }
}

/// A transcoder Job's name: `<library>-<profile>-<hash>`, with the profile cut so the whole
/// stays a 63-character label value (the `job-name` label of its pods).
pub fn job(library: &str, profile: &str, hash: &str) -> String {
    let room = 63usize.saturating_sub(library.len() + hash.len() + 2);
    let mut profile = &profile[..profile.len().min(room)];
    profile = profile.trim_end_matches(['-', '.']);
    format!("{library}-{profile}-{hash}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_names_fit_a_label_value() {
        assert_eq!(
            job("movies", "standard", "0123abcd"),
            "movies-standard-0123abcd"
        );
        let lib = "l".repeat(40);
        let name = job(&lib, "a-very-long-profile.name-indeed", "0123abcd");
        assert_eq!(name.len(), 63);
        assert!(name.ends_with("-a-very-long-p-0123abcd"), "{name}");
        let cut_at_dash = job(&lib, "abcdefghijkl-xyz", "0123abcd");
        assert!(
            cut_at_dash.contains("-abcdefghijkl-0123abcd"),
            "{cut_at_dash}"
        );
    }
}
