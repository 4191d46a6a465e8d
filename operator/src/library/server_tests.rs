//! The library server's children, as the API server will get them.

use super::*;
use crate::testing;
use serde_json::{Value, json};

fn to_json<T: serde::Serialize>(obj: &T) -> Value {
    serde_json::to_value(obj).unwrap()
}

#[test]
fn deployment_runs_manofwar_serve_with_read_only_media() {
    let lib = testing::library_with(
        "scanIntervalSeconds: 900\nserver: {nodeSelector: {disk: ssd}, resources: {limits: {memory: 1Gi}}}\n",
    );
    let mut nfs_sub = lib.clone();
    nfs_sub.spec.media.sub_path = Some("movies".into());
    let d = to_json(&deployment(&nfs_sub, &Settings::for_tests()));

    assert_eq!(d["apiVersion"], "apps/v1");
    assert_eq!(d["kind"], "Deployment");
    assert_eq!(d["metadata"]["name"], "movies");
    assert_eq!(d["metadata"]["namespace"], "media");
    assert_eq!(d["metadata"]["ownerReferences"][0]["kind"], "MediaLibrary");
    assert_eq!(d["metadata"]["ownerReferences"][0]["controller"], true);
    assert_eq!(d["metadata"]["labels"]["manofwar.io/library"], "movies");
    let spec = &d["spec"];
    assert_eq!(spec["replicas"], 1);
    assert_eq!(spec["strategy"]["type"], "Recreate");
    assert_eq!(
        spec["selector"]["matchLabels"],
        json!({
            "app.kubernetes.io/name": "manofwar",
            "app.kubernetes.io/instance": "movies",
            "app.kubernetes.io/component": "library-server",
        })
    );
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["fsGroup"], 65532);
    assert_eq!(pod["nodeSelector"], json!({"disk": "ssd"}));
    let c = &pod["containers"][0];
    assert_eq!(c["image"], "ghcr.io/manofwar/manofwar:test");
    assert_eq!(c["command"], json!(["manofwar"]));
    assert_eq!(
        c["args"],
        json!([
            "serve",
            "--media",
            "/media",
            "--data",
            "/data",
            "--listen",
            "0.0.0.0:8096",
            "--scan-interval",
            "900",
            "--profiles",
            "/etc/manofwar/profiles"
        ])
    );
    assert_eq!(c["resources"], json!({"limits": {"memory": "1Gi"}}));
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(
        c["ports"][0],
        json!({"name": "http", "containerPort": 8096, "protocol": "TCP"})
    );
    let token = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "MANOFWAR_TOKEN")
        .unwrap();
    assert_eq!(
        token["valueFrom"]["secretKeyRef"],
        json!({"name": "movies-worker-token", "key": "token", "optional": false})
    );
    assert_eq!(
        c["volumeMounts"][0],
        json!({"name": "media", "mountPath": "/media", "readOnly": true, "subPath": "movies"})
    );
    assert_eq!(
        pod["volumes"][0],
        json!({"name": "media", "nfs": {"server": "nas.lan", "path": "/export/movies", "readOnly": true}})
    );
    assert_eq!(
        pod["volumes"][1],
        json!({"name": "data", "persistentVolumeClaim": {"claimName": "movies-data"}})
    );
    assert_eq!(
        pod["volumes"][3],
        json!({"name": "profiles", "configMap": {"name": "movies-profiles"}}),
        "every profile of the library, updated in place when profiles are added or removed"
    );
}

#[test]
fn media_sources_mount_read_only() {
    let pvc = testing::library_with("");
    let mut pvc = pvc;
    pvc.spec.media = serde_yaml::from_str("{pvc: {claimName: originals}}").unwrap();
    let host = {
        let mut lib = testing::library();
        lib.spec.media = serde_yaml::from_str("{hostPath: {path: /srv/media}}").unwrap();
        lib
    };
    let volume = |lib: &MediaLibrary| to_json(&pod::media_volume(&lib.spec.media));
    assert_eq!(
        volume(&pvc),
        json!({"name": "media", "persistentVolumeClaim": {"claimName": "originals", "readOnly": true}})
    );
    assert_eq!(
        volume(&host),
        json!({"name": "media", "hostPath": {"path": "/srv/media", "type": "Directory"}})
    );
}

#[test]
fn service_exposes_port_8096() {
    let s = to_json(&service(&testing::library()));
    assert_eq!(s["kind"], "Service");
    assert_eq!(s["metadata"]["name"], "movies");
    assert_eq!(
        s["spec"]["ports"],
        json!([{"name": "http", "port": 8096, "targetPort": "http", "protocol": "TCP"}])
    );
    assert_eq!(
        s["spec"]["selector"]["app.kubernetes.io/component"],
        "library-server"
    );
    assert!(s["spec"].get("type").is_none(), "ClusterIP by default");
}

#[test]
fn ingress_with_host_class_and_tls() {
    assert!(ingress(&testing::library()).is_none());
    let lib = testing::library_with(
        "ingress: {host: movies.example.org, className: nginx, tlsSecretName: movies-tls, annotations: {cert-manager.io/cluster-issuer: le}}\n",
    );
    let i = to_json(&ingress(&lib).unwrap());
    assert_eq!(i["apiVersion"], "networking.k8s.io/v1");
    assert_eq!(
        i["metadata"]["annotations"],
        json!({"cert-manager.io/cluster-issuer": "le"})
    );
    assert_eq!(i["spec"]["ingressClassName"], "nginx");
    assert_eq!(
        i["spec"]["tls"],
        json!([{"hosts": ["movies.example.org"], "secretName": "movies-tls"}])
    );
    let rule = &i["spec"]["rules"][0];
    assert_eq!(rule["host"], "movies.example.org");
    assert_eq!(
        rule["http"]["paths"][0],
        json!({"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "movies", "port": {"name": "http"}}}})
    );
    assert_eq!(
        url(&lib, &Settings::for_tests()),
        "https://movies.example.org/"
    );
    assert_eq!(
        url(&testing::library(), &Settings::for_tests()),
        "http://movies.media.svc:8096/"
    );
}

#[test]
fn a_data_claim_unless_an_existing_one_is_named() {
    let default = to_json(&data_claim(&testing::library()).unwrap());
    assert_eq!(default["metadata"]["name"], "movies-data");
    assert_eq!(default["spec"]["accessModes"], json!(["ReadWriteOnce"]));
    assert_eq!(default["spec"]["resources"]["requests"]["storage"], "20Gi");
    assert!(default["spec"].get("storageClassName").is_none());

    let sized = testing::library_with("storage: {size: 50Gi, storageClassName: longhorn}\n");
    let sized = to_json(&data_claim(&sized).unwrap());
    assert_eq!(sized["spec"]["resources"]["requests"]["storage"], "50Gi");
    assert_eq!(sized["spec"]["storageClassName"], "longhorn");

    let existing = testing::library_with("storage: {existingClaim: media-data}\n");
    assert!(data_claim(&existing).is_none());
    let d = to_json(&deployment(&existing, &Settings::for_tests()));
    assert_eq!(
        d["spec"]["template"]["spec"]["volumes"][1]["persistentVolumeClaim"]["claimName"],
        "media-data"
    );
}

#[test]
fn hub_mode_makes_the_server_private() {
    let args = |settings: &Settings| {
        let d = to_json(&deployment(&testing::library(), settings));
        d["spec"]["template"]["spec"]["containers"][0]["args"].clone()
    };
    let open = args(&Settings::for_tests());
    assert!(!open.as_array().unwrap().contains(&json!("--private")));
    let private = args(&Settings::for_hub_tests());
    assert_eq!(
        private.as_array().unwrap().last(),
        Some(&json!("--private"))
    );
    assert!(
        network_policy(&testing::library(), &Settings::for_tests()).is_none(),
        "no NetworkPolicy outside hub mode"
    );
}

#[test]
fn the_network_policy_admits_the_hub_the_operator_and_the_workers() {
    let lib = testing::library();
    let p = to_json(&network_policy(&lib, &Settings::for_hub_tests()).unwrap());
    assert_eq!(p["apiVersion"], "networking.k8s.io/v1");
    assert_eq!(p["kind"], "NetworkPolicy");
    assert_eq!(p["metadata"]["name"], "movies");
    assert_eq!(p["metadata"]["namespace"], "media");
    assert_eq!(p["metadata"]["ownerReferences"][0]["kind"], "MediaLibrary");
    assert_eq!(p["metadata"]["ownerReferences"][0]["controller"], true);
    let spec = &p["spec"];
    let server = to_json(&deployment(&lib, &Settings::for_hub_tests()));
    assert_eq!(
        spec["podSelector"], server["spec"]["selector"],
        "the library server's pods"
    );
    assert_eq!(spec["policyTypes"], json!(["Ingress"]));
    let operator_namespace =
        json!({"matchLabels": {"kubernetes.io/metadata.name": "manofwar-system"}});
    assert_eq!(
        spec["ingress"],
        json!([{
            "from": [
                {
                    "namespaceSelector": operator_namespace,
                    "podSelector": {"matchLabels": {"app.kubernetes.io/component": "hub"}},
                },
                {
                    "namespaceSelector": operator_namespace,
                    "podSelector": {"matchLabels": {"app.kubernetes.io/component": "operator"}},
                },
                {
                    "podSelector": {"matchLabels": {
                        "app.kubernetes.io/name": "manofwar",
                        "app.kubernetes.io/instance": "movies",
                        "app.kubernetes.io/component": "transcoder",
                    }},
                },
            ],
            "ports": [{"port": 8096, "protocol": "TCP"}],
        }])
    );
    // The workers' selector matches the labels their pods get.
    let job = jobs::job(
        &lib,
        &testing::profile("standard", "{}"),
        &Settings::for_tests(),
    )
    .unwrap();
    let pod_labels = to_json(&job)["spec"]["template"]["metadata"]["labels"].clone();
    for (key, value) in spec["ingress"][0]["from"][2]["podSelector"]["matchLabels"]
        .as_object()
        .unwrap()
    {
        assert_eq!(&pod_labels[key], value, "{key}");
    }
}
