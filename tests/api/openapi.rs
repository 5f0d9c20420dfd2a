//! The committed OpenAPI document (`openapi/openapi.yaml`) describes exactly the routes the
//! server answers: every command of `imreceipts::http::ROUTES`, plus the operations routes.

use std::collections::BTreeSet;

use serde_yaml::Value;

/// Routes outside the `/v4` command table (registered directly in `http::configure`).
const OPS_ROUTES: [(&str, &str); 4] =
    [("get", "/healthz"), ("get", "/readyz"), ("get", "/metrics"), ("get", "/v4/receipt_svc/event_stream")];

/// Routes deliberately left out of the document, by path prefix, with why. Each prefix names
/// a route table of the server, so a route added there is excluded knowingly.
const EXCLUDED: [(&str, &str); 1] = [(
    "/console",
    "the operator console: HTML pages and form posts for people in a browser, signed in with a \
     session cookie rather than the /v4 query authentication; not an API for programs",
)];

/// The HTTP methods a path item may hold (other keys are `parameters`, `summary`, ...).
const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

fn document() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.yaml");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path} is not valid YAML: {e}"))
}

/// Looks up a `#/a/b/c` reference inside the document.
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix("#/")?;
    pointer.split('/').try_fold(doc, |node, part| {
        let key = part.replace("~1", "/").replace("~0", "~");
        node.get(key.as_str())
    })
}

/// A `$ref` object is replaced by its target (one level, as used in the document).
fn deref<'a>(doc: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => resolve(doc, r).unwrap_or(node),
        None => node,
    }
}

fn response_200(responses: &Value) -> Option<&Value> {
    responses.get("200").or_else(|| responses.get(200))
}

#[test]
fn openapi_document_matches_the_router() {
    let doc = document();

    let version = doc.get("openapi").and_then(Value::as_str).unwrap_or_default();
    assert!(version.starts_with("3.1."), "openapi must be 3.1.x, got {version:?}");

    let paths = doc.get("paths").and_then(Value::as_mapping).expect("the document has a `paths` mapping");

    let mut documented: BTreeSet<(String, String)> = BTreeSet::new();
    let mut incomplete: Vec<String> = Vec::new();
    for (path, item) in paths {
        let path = path.as_str().expect("path keys are strings");
        let item = item.as_mapping().unwrap_or_else(|| panic!("{path} is not a mapping"));
        for (method, op) in item {
            let Some(method) = method.as_str().filter(|m| METHODS.contains(m)) else { continue };
            documented.insert((method.to_string(), path.to_string()));
            if path.starts_with("/v4/") {
                let body = op.get("requestBody").map(|b| deref(&doc, b));
                // Commands are POSTs with a JSON body; the event stream is a plain GET.
                if method == "post" && body.and_then(|b| b.get("content")).is_none() {
                    incomplete.push(format!("{method} {path}: no requestBody with content"));
                }
                let ok = op.get("responses").and_then(response_200).map(|r| deref(&doc, r));
                if ok.and_then(|r| r.get("content")).is_none() {
                    incomplete.push(format!("{method} {path}: no 200 response with content"));
                }
            }
        }
    }

    let routed: BTreeSet<(String, String)> = imreceipts::http::ROUTES
        .iter()
        .map(|r| ("post".to_string(), format!("/v4/{}/{}", r.service, r.command)))
        .chain(OPS_ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())))
        .collect();

    // Excluded routes come from the console's own route table; none may also be documented,
    // and no other route may hide under an excluded prefix.
    let mut wrongly_excluded = Vec::new();
    for (method, path) in imreceipts::console::ROUTES {
        let excluded = EXCLUDED.iter().any(|(prefix, why)| !why.is_empty() && path.starts_with(prefix));
        if !excluded {
            wrongly_excluded.push(format!("{method} {path}: a console route outside every excluded prefix"));
        }
        if documented.contains(&(method.to_string(), path.to_string())) {
            wrongly_excluded.push(format!("{method} {path}: excluded but documented"));
        }
    }
    for (_, path) in routed.iter() {
        if let Some((prefix, _)) = EXCLUDED.iter().find(|(prefix, _)| path.starts_with(prefix)) {
            wrongly_excluded.push(format!("{path}: an API route under the excluded prefix {prefix}"));
        }
    }

    let show = |set: Vec<&(String, String)>| set.iter().map(|(m, p)| format!("\n  {m} {p}")).collect::<String>();
    let missing: Vec<_> = routed.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&routed).collect();
    let mut report = String::new();
    if !missing.is_empty() {
        report += &format!("\nrouted but not documented in openapi/openapi.yaml:{}", show(missing));
    }
    if !extra.is_empty() {
        report += &format!("\ndocumented but not routed (not in http::ROUTES nor OPS_ROUTES):{}", show(extra));
    }
    if !wrongly_excluded.is_empty() {
        report += &format!("\nexclusions:\n  {}", wrongly_excluded.join("\n  "));
    }
    if !incomplete.is_empty() {
        report += &format!("\nincomplete operations:\n  {}", incomplete.join("\n  "));
    }
    assert!(report.is_empty(), "openapi/openapi.yaml disagrees with the router:{report}");
}

#[test]
fn openapi_references_resolve_and_operation_ids_are_unique() {
    let doc = document();
    let mut broken = Vec::new();
    let mut ids = BTreeSet::new();
    let mut duplicate_ids = Vec::new();
    let mut stack = vec![&doc];
    while let Some(node) = stack.pop() {
        match node {
            Value::Mapping(map) => {
                for (key, value) in map {
                    match (key.as_str(), value.as_str()) {
                        (Some("$ref"), Some(r)) if resolve(&doc, r).is_none() => broken.push(r.to_string()),
                        (Some("operationId"), Some(id)) if !ids.insert(id.to_string()) => {
                            duplicate_ids.push(id.to_string())
                        }
                        _ => {}
                    }
                    stack.push(value);
                }
            }
            Value::Sequence(items) => stack.extend(items),
            _ => {}
        }
    }
    assert!(broken.is_empty(), "unresolved $ref in openapi/openapi.yaml: {broken:?}");
    assert!(duplicate_ids.is_empty(), "duplicate operationId in openapi/openapi.yaml: {duplicate_ids:?}");
}
