//! The CRD reference (`docs/crd-reference.md`), rendered from the CRDs' OpenAPI schemas, whose
//! descriptions are the types' doc comments.

use std::fmt::Write;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;

/// Kubernetes types embedded in ours: named and linked, not expanded field by field.
const EMBEDDED: &[(&str, &str, &str)] = &[
    (
        "resources",
        "ResourceRequirements",
        "https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#resources",
    ),
    (
        "tolerations",
        "[]Toleration",
        "https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#scheduling",
    ),
    (
        "conditions",
        "[]Condition",
        "https://github.com/kubernetes/community/blob/master/contributors/devel/sig-architecture/api-conventions.md#typical-status-properties",
    ),
];

/// The whole reference page.
pub fn markdown(crds: &[CustomResourceDefinition]) -> String {
    let mut out = String::from(
        "<!-- Generated from crds/src by `cargo run -p manofwar-crds --bin crdgen`; do not edit. -->\n\
         # CRD reference (`manofwar.io/v1alpha1`)\n\n\
         Generated from the doc comments of the Rust types in `crds/`. Every kind is namespaced \
         and has a status subresource whose `conditions` (`Ready`, `Reconciling`, `Stalled`) \
         and `observedGeneration` Flux and Argo CD read. The API server refuses a resource \
         that breaks a rule listed under *Rules*, with the message shown.\n\n",
    );
    for crd in crds {
        kind_section(&mut out, crd);
    }
    out
}

fn kind_section(out: &mut String, crd: &CustomResourceDefinition) {
    let names = &crd.spec.names;
    let version = &crd.spec.versions[0];
    let schema = version
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .map(|s| serde_json::to_value(s).expect("schema serialises"))
        .unwrap_or(Value::Null);
    let short = names.short_names.clone().unwrap_or_default().join("`, `");
    let _ = writeln!(out, "## {}\n", names.kind);
    let _ = writeln!(
        out,
        "`apiVersion: {}/{}` · plural `{}` · short names `{short}`\n",
        crd.spec.group, version.name, names.plural
    );
    let _ = writeln!(out, "{}\n", text(&schema["description"]));
    if let Some(columns) = &version.additional_printer_columns {
        let list: Vec<String> = columns.iter().map(|c| format!("`{}`", c.name)).collect();
        let _ = writeln!(out, "`kubectl get` columns: {}.\n", list.join(", "));
    }
    for part in ["spec", "status"] {
        let _ = writeln!(out, "### {}.{part}\n", names.kind);
        let _ = writeln!(
            out,
            "{}\n",
            text(&schema["properties"][part]["description"])
        );
        let _ = writeln!(out, "| Field | Type | Default | Description |");
        let _ = writeln!(out, "|---|---|---|---|");
        fields(out, "", &schema["properties"][part]);
        out.push('\n');
    }
}

/// One row per field, depth first, with dotted paths (`[]` marks list items).
fn fields(out: &mut String, prefix: &str, schema: &Value) {
    let Some(properties) = schema["properties"].as_object() else {
        return;
    };
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (name, prop) in properties {
        let path = format!("{prefix}{name}");
        let embedded = EMBEDDED.iter().find(|(field, ..)| *field == name);
        let type_ = match embedded {
            Some((_, kind, link)) => format!("[{kind}]({link})"),
            None => type_name(prop),
        };
        let mut description = text(&prop["description"]);
        if required.contains(&name.as_str()) {
            description = format!("**Required.** {description}");
        }
        let rules = rules(prop).chain(rules(&prop["items"])).collect::<Vec<_>>();
        if !rules.is_empty() {
            let _ = write!(description, "<br>Rules: {}", rules.join("; "));
        }
        let default = match &prop["default"] {
            Value::Null => String::new(),
            v => format!("`{}`", cell(&v.to_string())),
        };
        let _ = writeln!(
            out,
            "| `{path}` | {type_} | {default} | {} |",
            cell(&description)
        );
        if embedded.is_none() {
            fields(out, &format!("{path}."), prop);
            fields(out, &format!("{path}[]."), &prop["items"]);
        }
    }
}

fn type_name(prop: &Value) -> String {
    if prop["x-kubernetes-int-or-string"] == Value::Bool(true) {
        return "quantity".into();
    }
    let base = match prop["type"].as_str().unwrap_or("any") {
        "array" => format!("[]{}", type_name(&prop["items"])),
        "object" if prop["additionalProperties"].is_object() => {
            format!("map[string]{}", type_name(&prop["additionalProperties"]))
        }
        "integer" => "integer".into(),
        other => other.into(),
    };
    match prop["enum"].as_array() {
        Some(values) => {
            let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
            format!("{base} ({})", values.join(" \\| "))
        }
        None => base,
    }
}

/// The messages of a schema node's CEL rules.
fn rules(schema: &Value) -> impl Iterator<Item = String> + '_ {
    schema["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|rule| match rule["message"].as_str() {
            Some(message) => message.to_owned(),
            None => format!("`{}`", text(&rule["rule"])),
        })
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// Make text safe inside a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
        .replace("\n\n", "<br>")
        .replace('\n', " ")
}
