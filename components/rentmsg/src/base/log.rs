//! The components' log: one JSON object per line on stderr, naming the
//! component. Callers put in what happened, never phone numbers, emails,
//! tokens or passwords.

use serde::Serialize;

/// One JSON line on stderr, `component` first, then `fields`' own fields
/// (a `fields` that is not an object or struct is left out); written in one
/// call (stderr is unbuffered, and in a component each write is a host call).
pub fn line(component: &str, fields: &impl Serialize) {
    let _ = std::io::Write::write_all(&mut std::io::stderr(), &rendered(component, fields));
}

/// The bytes [`line`] writes.
fn rendered(component: &str, fields: &impl Serialize) -> Vec<u8> {
    let mut out = serde_json::to_vec(&Line { component, fields })
        .or_else(|_| serde_json::to_vec(&Line { component, fields: &() }))
        .unwrap_or_default();
    out.push(b'\n');
    out
}

/// A log line: the component, then the caller's fields in their order.
#[derive(Serialize)]
struct Line<'a, T: Serialize + ?Sized> {
    component: &'a str,
    #[serde(flatten)]
    fields: &'a T,
}

#[cfg(test)]
mod tests {
    use super::rendered;

    #[test]
    fn the_component_comes_first_then_the_fields() {
        let fields = serde_json::json!({ "status": 200, "route": "/webhooks/sms", "ms": 3 });
        assert_eq!(
            String::from_utf8(rendered("inbound-webhook", &fields)).unwrap(),
            "{\"component\":\"inbound-webhook\",\"ms\":3,\"route\":\"/webhooks/sms\",\"status\":200}\n"
        );
    }

    #[test]
    fn fields_that_are_not_an_object_are_left_out() {
        assert_eq!(String::from_utf8(rendered("x", &"text")).unwrap(), "{\"component\":\"x\"}\n");
        assert_eq!(String::from_utf8(rendered("x", &serde_json::Value::Null)).unwrap(), "{\"component\":\"x\"}\n");
    }
}
