//! The components' log: one JSON object per line on stderr, naming the
//! component. Callers put in what happened, never phone numbers, emails,
//! tokens or passwords.

/// One JSON line on stderr, `component` first, then `fields`' own fields
/// (a `fields` that is not an object is left out); written in one call
/// (stderr is unbuffered, and in a component each write is a host call).
pub fn line(component: &str, fields: &serde_json::Value) {
    let mut line = serde_json::json!({ "component": component });
    if let (Some(obj), Some(src)) = (line.as_object_mut(), fields.as_object()) {
        obj.extend(src.clone());
    }
    let _ = std::io::Write::write_all(&mut std::io::stderr(), format!("{line}\n").as_bytes());
}
