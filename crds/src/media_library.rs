//! `MediaLibrary`: a folder of originals, served as HLS behind a Service and an optional Ingress.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::condition::Condition;
use crate::pod::PodSettings;

/// A library: where the originals are, where the catalog and HLS output live, which
/// TranscodeProfiles apply, how often to rescan, how it is reached and shared.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "manofwar.io",
    version = "v1alpha1",
    kind = "MediaLibrary",
    plural = "medialibraries",
    doc = "A media library: a library server Deployment (`manofwar serve`) reading the originals \
           read-only, a Service, an optional Ingress, and while items are pending a transcoder \
           Job per TranscodeProfile.",
    namespaced,
    shortname = "ml",
    shortname = "medialib",
    category = "manofwar",
    status = "MediaLibraryStatus",
    validation = Rule::new("self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$') && self.metadata.name.size() <= 40").message("metadata.name must be a DNS-1035 label of at most 40 characters: it names the library's Service"),
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Items","type":"integer","jsonPath":".status.items.total","description":"Items in the catalog"}"#,
    printcolumn = r#"{"name":"Pending","type":"integer","jsonPath":".status.items.pending","description":"Items waiting to be transcoded"}"#,
    printcolumn = r#"{"name":"Failed","type":"integer","jsonPath":".status.items.failed","priority":1}"#,
    printcolumn = r#"{"name":"URL","type":"string","jsonPath":".status.url"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct MediaLibrarySpec {
    /// Where the originals are. Mounted read-only; exactly one of `pvc`, `nfs` or `hostPath`.
    pub media: MediaSource,
    /// Where the catalog (SQLite) and the HLS output live. Defaults to a new 20Gi PVC of the
    /// default StorageClass.
    #[serde(default, skip_serializing_if = "Storage::is_default")]
    pub storage: Storage,
    /// Names of the TranscodeProfiles (in this namespace) every item is transcoded with: 1-8,
    /// unique. Each profile makes its own package of every item, and the item's master playlist
    /// offers them all. A missing profile sets the library `Stalled`.
    #[schemars(length(max = 8), inner(length(max = 253)))]
    #[x_kube(
        validation = Rule::new("size(self) >= 1").message("profiles must name at least one TranscodeProfile"),
        validation = Rule::new("self.all(p, self.exists_one(q, q == p))").message("profiles must not repeat a name"),
        validation = Rule::new("self.all(p, p.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'))").message("profiles must be TranscodeProfile names (lowercase RFC 1123 subdomains)")
    )]
    pub profiles: Vec<String>,
    /// Seconds between full rescans of the media folder (10-86400). File-system events are
    /// watched too where the volume delivers them (NFS does not).
    #[serde(default = "default_scan_interval")]
    #[x_kube(validation = Rule::new("self >= 10 && self <= 86400").message("scanIntervalSeconds must be 10..86400 (10 s to 1 day)"))]
    pub scan_interval_seconds: u32,
    /// Expose the library through an Ingress; without it the library is reachable through its
    /// Service only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<Ingress>,
    /// Share the library with the trusted peers of a PeerGroup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharing: Option<Sharing>,
    /// Size and placement of the library server pod. With a `hostPath` source, pin it to the
    /// node that holds the folder with `nodeSelector`.
    #[serde(default, skip_serializing_if = "PodSettings::is_empty")]
    pub server: PodSettings,
}

/// The volume that holds the originals. Exactly one of `pvc`, `nfs` or `hostPath`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.pvc) ? 1 : 0) + (has(self.nfs) ? 1 : 0) + (has(self.hostPath) ? 1 : 0) == 1").message("media must set exactly one of pvc, nfs or hostPath"))]
pub struct MediaSource {
    /// An existing PersistentVolumeClaim in this namespace (ReadOnlyMany or ReadWriteMany lets
    /// the server move between nodes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvc: Option<PvcSource>,
    /// An NFS export, mounted directly by the server pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nfs: Option<NfsSource>,
    /// A folder on the node. The server pod must run on that node: see `server.nodeSelector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_path: Option<HostPathSource>,
    /// Folder inside the volume to scan, relative, e.g. `movies`; the whole volume when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    #[x_kube(validation = Rule::new("!self.startsWith('/') && !self.split('/').exists(s, s == '..')").message("media.subPath must be relative and must not contain '..'"))]
    pub sub_path: Option<String>,
}

/// Originals on an existing PersistentVolumeClaim.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PvcSource {
    /// Name of the PersistentVolumeClaim.
    #[schemars(length(max = 253))]
    #[x_kube(validation = Rule::new("self.size() > 0").message("media.pvc.claimName must not be empty"))]
    pub claim_name: String,
}

/// Originals on an NFS export.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct NfsSource {
    /// Host name or IP address of the NFS server.
    #[schemars(length(max = 253))]
    #[x_kube(validation = Rule::new("self.size() > 0").message("media.nfs.server must not be empty"))]
    pub server: String,
    /// Exported path, absolute.
    #[schemars(length(max = 1024))]
    #[x_kube(validation = Rule::new("self.startsWith('/')").message("media.nfs.path must be an absolute path"))]
    pub path: String,
}

/// Originals in a folder of the node the server runs on.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct HostPathSource {
    /// Absolute path of an existing directory on the node.
    #[schemars(length(max = 1024))]
    #[x_kube(validation = Rule::new("self.startsWith('/') && self != '/'").message("media.hostPath.path must be an absolute path other than /"))]
    pub path: String,
}

/// Storage for the catalog and the HLS output: an existing PVC, or one the operator creates.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.existingClaim) || (!has(self.size) && !has(self.storageClassName))").message("storage: set either existingClaim, or size / storageClassName for a new PVC, not both"))]
pub struct Storage {
    /// Use this existing PersistentVolumeClaim (ReadWriteOnce is enough: the library server is
    /// its only writer). The operator leaves it alone when the library is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub existing_claim: Option<String>,
    /// Size of the PVC the operator creates when `existingClaim` is unset (default 20Gi). The
    /// PVC is owned by the library and deleted with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("isQuantity(string(self)) && quantity(string(self)).isGreaterThan(quantity('0'))").message("storage.size must be a positive quantity such as 20Gi"))]
    pub size: Option<Quantity>,
    /// StorageClass of the PVC the operator creates; the cluster default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub storage_class_name: Option<String>,
}

impl Storage {
    /// Size of the PVC the operator creates when neither `existingClaim` nor `size` is set.
    pub const DEFAULT_SIZE: &'static str = "20Gi";

    fn is_default(&self) -> bool {
        self == &Self::default()
    }
}

/// How the library is exposed outside the cluster.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Ingress {
    /// Host name, e.g. `media.home.example.org`.
    #[schemars(length(max = 253))]
    #[x_kube(validation = Rule::new("self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')").message("ingress.host must be a lowercase DNS name"))]
    pub host: String,
    /// IngressClass to use; the cluster default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub class_name: Option<String>,
    /// Secret (type kubernetes.io/tls) with the certificate for `host`; plain HTTP when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub tls_secret_name: Option<String>,
    /// Extra annotations on the Ingress, e.g. for cert-manager.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Sharing with friends' homelabs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sharing {
    /// Name of the PeerGroup (in this namespace) whose gateway shares this library. Which of its
    /// peers may see it is set per peer in the PeerGroup.
    #[schemars(length(max = 253))]
    #[x_kube(validation = Rule::new("self.size() > 0").message("sharing.peerGroup must name a PeerGroup"))]
    pub peer_group: String,
}

/// What the operator last saw of a MediaLibrary and its children.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediaLibraryStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Reconciling` and `Stalled`, keyed by type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// Where to watch: the Ingress URL, or the Service's in-cluster URL without an Ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Catalog item counts, as the library server reports them.
    #[serde(default)]
    pub items: ItemCounts,
}

/// Catalog item counts by state.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemCounts {
    /// Items in the catalog.
    #[serde(default)]
    pub total: u64,
    /// Items transcoded with every profile and playable.
    #[serde(default)]
    pub ready: u64,
    /// Items queued or being transcoded.
    #[serde(default)]
    pub pending: u64,
    /// Items that failed (e.g. a corrupt file), with the reason in the library's catalog.
    #[serde(default)]
    pub failed: u64,
}

fn default_scan_interval() -> u32 {
    300
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_refused, cel_errors};

    const NFS: &str = "
apiVersion: manofwar.io/v1alpha1
kind: MediaLibrary
metadata: {name: movies, namespace: media}
spec:
  media: {nfs: {server: nas.lan, path: /export/movies}}
  profiles: [standard]
";

    fn with(extra: &str) -> Vec<String> {
        cel_errors::<MediaLibrary>(&format!("{NFS}{extra}"))
    }

    fn with_media(media: &str) -> Vec<String> {
        let yaml = NFS.replace("{nfs: {server: nas.lan, path: /export/movies}}", media);
        cel_errors::<MediaLibrary>(&yaml)
    }

    #[test]
    fn a_plain_nfs_library_is_accepted_with_defaults() {
        assert_eq!(with(""), Vec::<String>::new());
        let lib: MediaLibrary = serde_yaml::from_str(NFS).unwrap();
        assert_eq!(lib.spec.scan_interval_seconds, 300);
        assert_eq!(lib.spec.storage, Storage::default());
        assert!(lib.spec.server.is_empty());
    }

    #[test]
    fn exactly_one_media_source() {
        let msg = "exactly one of pvc, nfs or hostPath";
        assert_refused(&with_media("{}"), msg);
        assert_refused(
            &with_media("{nfs: {server: nas, path: /m}, hostPath: {path: /srv/m}}"),
            msg,
        );
        assert!(with_media("{hostPath: {path: /srv/media}}").is_empty());
        assert!(with_media("{pvc: {claimName: media}, subPath: movies/4k}").is_empty());
    }

    #[test]
    fn media_paths_are_checked() {
        assert_refused(&with_media("{hostPath: {path: /}}"), "hostPath.path");
        assert_refused(
            &with_media("{nfs: {server: nas, path: export}}"),
            "nfs.path",
        );
        assert_refused(&with_media("{nfs: {server: '', path: /e}}"), "nfs.server");
        assert_refused(&with_media("{pvc: {claimName: ''}}"), "claimName");
        assert_refused(
            &with_media("{pvc: {claimName: m}, subPath: a/../../etc}"),
            "subPath",
        );
        assert_refused(
            &with_media("{pvc: {claimName: m}, subPath: /abs}"),
            "subPath",
        );
    }

    #[test]
    fn scan_interval_bounds() {
        assert_refused(&with("  scanIntervalSeconds: 5\n"), "scanIntervalSeconds");
        assert_refused(
            &with("  scanIntervalSeconds: 86401\n"),
            "scanIntervalSeconds",
        );
        assert!(with("  scanIntervalSeconds: 10\n").is_empty());
        assert!(with("  scanIntervalSeconds: 86400\n").is_empty());
    }

    #[test]
    fn profiles_are_named_once() {
        let yaml = |profiles: &str| NFS.replace("[standard]", profiles);
        assert_refused(&cel_errors::<MediaLibrary>(&yaml("[]")), "at least one");
        assert_refused(&cel_errors::<MediaLibrary>(&yaml("[a, b, a]")), "repeat");
        assert_refused(&cel_errors::<MediaLibrary>(&yaml("[Standard]")), "names");
    }

    #[test]
    fn storage_is_a_claim_or_a_request() {
        assert!(with("  storage: {existingClaim: media-data}\n").is_empty());
        assert!(with("  storage: {size: 50Gi, storageClassName: longhorn}\n").is_empty());
        assert!(
            with("  storage: {size: 1073741824}\n").is_empty(),
            "int-or-string"
        );
        assert_refused(
            &with("  storage: {existingClaim: d, size: 1Gi}\n"),
            "not both",
        );
        assert_refused(&with("  storage: {size: lots}\n"), "positive quantity");
        assert_refused(&with("  storage: {size: '0'}\n"), "positive quantity");
    }

    #[test]
    fn ingress_host_is_a_dns_name() {
        assert!(with("  ingress: {host: media.home.example.org, className: nginx}\n").is_empty());
        assert_refused(
            &with("  ingress: {host: Media.Example.org}\n"),
            "ingress.host",
        );
        assert_refused(&with("  ingress: {host: 'media..org'}\n"), "ingress.host");
    }

    #[test]
    fn the_name_must_fit_a_service() {
        let long = NFS.replace("name: movies", &format!("name: {}", "m".repeat(41)));
        assert_refused(&cel_errors::<MediaLibrary>(&long), "metadata.name");
        let digit = NFS.replace("name: movies", "name: 4k-movies");
        assert_refused(&cel_errors::<MediaLibrary>(&digit), "metadata.name");
    }

    #[test]
    fn status_serialises_in_camel_case() {
        let status = MediaLibraryStatus {
            observed_generation: Some(3),
            url: Some("https://media.example.org/".into()),
            items: ItemCounts {
                total: 4,
                ready: 2,
                pending: 1,
                failed: 1,
            },
            ..MediaLibraryStatus::default()
        };
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["observedGeneration"], 3);
        assert_eq!(json["items"]["pending"], 1);
        assert!(json.get("conditions").is_none(), "empty lists are left out");
    }
}
