//! Every `/v4` answer the tests receive is checked against `openapi/openapi.yaml`: a success
//! against the command's 200 response schema, a failure against the envelope. A wrong JSON type
//! or a missing required field fails the test that received it.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

/// The OpenAPI document as JSON.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.yaml");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path} is not valid YAML: {e}"))
    })
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn resolve<'a>(doc: &'a Value, pointer: &str) -> Option<&'a Value> {
    doc.pointer(pointer.strip_prefix('#').unwrap_or(pointer))
}

/// The JSON pointer of the schema of `path`'s 200 answer, or `None` when the path is not in
/// the document (an unknown command: only the envelope applies).
fn response_schema_pointer(doc: &Value, path: &str) -> Option<String> {
    let base = format!("#/paths/{}/post/responses/200", escape(path));
    let response = resolve(doc, &base)?;
    let base = match response.get("$ref").and_then(Value::as_str) {
        Some(r) => r.to_string(),
        None => base,
    };
    let pointer = format!("{base}/content/application~1json/schema");
    resolve(doc, &pointer).map(|_| pointer)
}

fn validator(pointer: &str) -> &'static jsonschema::Validator {
    static CACHE: OnceLock<Mutex<HashMap<String, &'static jsonschema::Validator>>> = OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    cache.entry(pointer.to_string()).or_insert_with(|| {
        // The whole document is the root, so `#/components/...` references resolve.
        let mut root = document().clone();
        let obj = root.as_object_mut().expect("the document is an object");
        obj.insert("$schema".into(), "https://json-schema.org/draft/2020-12/schema".into());
        obj.insert("$ref".into(), pointer.into());
        let v = jsonschema::options()
            .build(&root)
            .unwrap_or_else(|e| panic!("schema {pointer} in openapi/openapi.yaml does not compile: {e}"));
        Box::leak(Box::new(v))
    })
}

/// Panics unless `answer` (from `POST /v4/{path}`) matches the document.
pub fn check(path: &str, answer: &Value) {
    let doc = document();
    let ok = answer.get("ErrorCode").and_then(Value::as_i64) == Some(0);
    let pointer = match response_schema_pointer(doc, &format!("/v4/{path}")) {
        Some(p) if ok => p,
        _ => "#/components/schemas/Envelope".to_string(),
    };
    let errors: Vec<String> =
        validator(&pointer).iter_errors(answer).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(
        errors.is_empty(),
        "the answer of {path} does not match openapi/openapi.yaml ({pointer}):\n  {}\nanswer: {answer}",
        errors.join("\n  ")
    );
    if !ok {
        assert_eq!(answer["ActionStatus"], "FAIL", "{path}: a non-zero ErrorCode needs ActionStatus FAIL: {answer}");
    }
}

/// Panics unless the webhook `body` matches the request schema the document gives its
/// `CallbackCommand` (under `webhooks`).
// The fault suite includes this file too and has no callbacks to check.
#[allow(dead_code)]
pub fn check_callback(body: &Value) {
    let cmd = body["CallbackCommand"].as_str().unwrap_or_else(|| panic!("a callback without CallbackCommand: {body}"));
    let doc = document();
    let schema = &doc["webhooks"][cmd]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"];
    let pointer = schema.as_str().unwrap_or_else(|| panic!("openapi/openapi.yaml documents no webhook {cmd}"));
    let errors: Vec<String> =
        validator(pointer).iter_errors(body).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "the {cmd} body does not match {pointer}:\n  {}\nbody: {body}", errors.join("\n  "));
}
