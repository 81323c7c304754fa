//! Variables: component templates over application variables, values from
//! defaults, `SPIN_VARIABLE_*`, a `.env` file and `--variable`, Spin's error
//! cases, and secrets that never reach the logs.

mod common;

use std::path::Path;

use common::*;

fn var(name: &str) -> Json {
    json!({ "op": "var", "name": name })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn component_variables_expand_application_variables() {
    let app = Start::probe().start().await;
    let r = app.probe(json!([var("greeting"), var("token"), var("nope"), var("Bad-Name"), var("upstream")])).await;
    assert_eq!(r[0], ok(json!("hello, world")));
    assert_eq!(r[1], ok(json!(SECRET)));
    assert!(r[2]["err"].as_str().unwrap_or_default().starts_with("undefined"), "{:?}", r[2]);
    assert!(r[3]["err"].as_str().unwrap_or_default().starts_with("invalid-name"), "{:?}", r[3]);
    // Application variables are not visible unless the component maps them.
    assert!(r[4]["err"].as_str().unwrap_or_default().starts_with("undefined"), "{:?}", r[4]);
    // A component without a variables table sees none.
    let bare = app.results_at("/bare/x", json!([var("greeting")])).await;
    assert!(bare[0]["err"].as_str().unwrap_or_default().starts_with("undefined"), "{bare:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_line_values_win() {
    let app = Start::probe().variable("greeting", "hi").start().await;
    assert_eq!(app.probe_one(var("greeting")).await, ok(json!("hi, world")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_required_variable_stops_the_app() {
    let start = Start::fixture("probe.toml");
    let e = start.load().await.err().expect("must not load");
    let text = format!("{e:#}");
    assert!(text.contains("secret_token") && text.contains("SPIN_VARIABLE_SECRET_TOKEN"), "{text}");
    let unknown = Start::probe().variable("not_declared", "x");
    let e = unknown.load().await.err().expect("must not load");
    assert!(format!("{e:#}").contains("not_declared"), "{e:#}");
}

/// Write a copy of the probe manifest into `dir` with absolute wasm paths.
fn probe_manifest_in(dir: &Path) -> std::path::PathBuf {
    let apps = fixture("probe.toml").parent().expect("apps dir").to_path_buf();
    let text = std::fs::read_to_string(apps.join("probe.toml"))
        .expect("read probe.toml")
        .replace("\"../../../../target/", &format!("\"{}/../../../../target/", apps.display()))
        .replace("source = \"files\"", &format!("source = \"{}/files\"", apps.display()));
    let path = dir.join("spin.toml");
    std::fs::write(&path, text).expect("write manifest");
    path
}

#[test]
fn environment_and_dotenv_provide_values_and_secrets_stay_out_of_logs() {
    let dir = tempfile::tempdir().expect("temp");
    let manifest = probe_manifest_in(dir.path());
    std::fs::write(dir.path().join(".env"), "SPIN_VARIABLE_UPSTREAM=http://127.0.0.1:7\nSPIN_VARIABLE_GREETING=from-dotenv\n").expect(".env");
    let rc = probe_runtime_config(dir.path());
    let secret = "top-secret-value-93f1";
    let app = e2e::App::builder()
        .manifest(&manifest)
        .variable("secret_token", secret)
        // The environment wins over the .env file.
        .variable("greeting", "from-env")
        .state_dir(dir.path().join("state"))
        .arg("--runtime-config-file")
        .arg(rc.display().to_string())
        .start();
    let answer: Json = app
        .client
        .post(app.url("/probe/v"))
        .json(&json!({ "ops": [var("greeting"), var("token"), { "op": "http", "url": "http://127.0.0.1:7/" }] }))
        .send()
        .expect("send")
        .json()
        .expect("JSON");
    assert_eq!(answer["results"][0], ok(json!("from-env, world")));
    assert_eq!(answer["results"][1], ok(json!(secret)));
    // upstream came from .env: its rule allows port 7 (nothing listens, so the
    // request fails to connect rather than being denied).
    assert_ne!(answer["results"][2], err("ErrorCode::HttpRequestDenied"), "{answer}");
    let _ = app.get("/trap/panic");
    // The trap's log line is the last thing the host writes for these
    // requests: wait until it is there, then look for the secret.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !app.log().contains("trapped") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let log = app.log();
    assert!(log.contains("trapped"), "the trap was not logged within 10 s:\n{log}");
    assert!(!log.contains(secret), "the host logged a secret:\n{log}");

    // --variable beats the environment.
    let cli = e2e::App::builder()
        .manifest(&manifest)
        .variable("secret_token", secret)
        .variable("greeting", "from-env")
        .arg("--variable")
        .arg("greeting=from-cli")
        .state_dir(dir.path().join("state2"))
        .arg("--runtime-config-file")
        .arg(rc.display().to_string())
        .start();
    let answer: Json = cli
        .client
        .post(cli.url("/probe/v"))
        .json(&json!({ "ops": [var("greeting")] }))
        .send()
        .expect("send")
        .json()
        .expect("JSON");
    assert_eq!(answer["results"][0], ok(json!("from-cli, world")));
}

/// Spin refuses an `allowed_outbound_hosts` entry with a path or an empty
/// one, but only at the first outbound request; the host refuses the same
/// values at load and names the variable, so the operator sees it at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outbound_host_variable_with_a_path_or_empty_stops_the_app_at_load() {
    for (value, says) in [("http://127.0.0.1:9/2010-04-01", "must not include a path"), ("", "empty")] {
        let e = Start::probe().variable("upstream", value).load().await.err().expect("must not load");
        let text = format!("{e:#}");
        assert!(text.contains(says) && text.contains("upstream"), "{value:?}: {text}");
    }
    // The same variable as scheme://host:port loads.
    assert!(Start::probe().variable("upstream", "http://127.0.0.1:9").load().await.is_ok());
}
