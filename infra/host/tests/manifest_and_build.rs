//! A bad manifest is reported with the line where the mistake is and what is
//! wrong, before anything runs; `spin-host build` runs each component's
//! build command.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// A valid manifest the cases below break one line at a time.
fn good(wasm: &Path) -> String {
    format!(
        r#"spin_manifest_version = 2

[application]
name = "m"

[variables]
token = {{ required = true, secret = true }}

[[trigger.http]]
route = "/api/..."
component = "api"

[component.api]
source = "{}"
key_value_stores = ["default"]
allowed_outbound_hosts = ["https://api.example.com"]
"#,
        wasm.display()
    )
}

fn wasm() -> PathBuf {
    fixture("probe.toml").parent().expect("apps").join("../../../../target/wasm32-wasip2/release/fixture_probe.wasm")
}

/// 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect("needle present") + 1
}

async fn load_error(dir: &Path, text: &str) -> String {
    let path = dir.join("spin.toml");
    std::fs::write(&path, text).expect("write");
    let mut start = Start::fixture("hello.toml").variable("token", "t");
    start.options.manifest = path;
    format!("{:#}", start.load().await.err().expect("the manifest is bad"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_name_the_line_and_the_problem() {
    let dir = tempfile::tempdir().expect("temp");
    let good = good(&wasm());
    // The good manifest loads.
    let path = dir.path().join("spin.toml");
    std::fs::write(&path, &good).expect("write");
    let mut start = Start::fixture("hello.toml").variable("token", "t");
    start.options.manifest = path.clone();
    start.load().await.expect("the good manifest loads");

    let cases: Vec<(String, &str, &str)> = vec![
        // (broken manifest, text on the offending line, words the message must contain)
        (good.replace("key_value_stores =", "key_value_store ="), "key_value_store =", "key_value_store"),
        (good.replace("key_value_stores = [\"default\"]", "key_value_stores = \"default\""), "key_value_stores =", "sequence"),
        (good.replace("component = \"api\"", "component = \"apx\""), "[[trigger.http]]", "\"apx\""),
        (good.replace("route = \"/api/...\"", "route = \"api/...\""), "[[trigger.http]]", "must start with '/'"),
        (good.replace("https://api.example.com", "api.example.com"), "allowed_outbound_hosts", "scheme"),
        (good.replace("spin_manifest_version = 2", "spin_manifest_version = 1"), "spin_manifest_version", "must be 2"),
        (good.replace("name = \"m\"", "name = \"m"), "name = \"m", "string"),
        (good.replace("[component.api]", "[component.Api]").replace("\"api\"", "\"Api\""), "[component.Api]", "kebab-case"),
        (good.replace("{ required = true, secret = true }", "{ required = true, default = \"x\" }"), "token =", "both required"),
        (good.replace("[[trigger.http]]", "[[trigger.redis]]").replace("route = \"/api/...\"", "channel = \"c\""), "[[trigger.redis]]", "not supported"),
    ];
    for (text, line_text, words) in cases {
        let message = load_error(dir.path(), &text).await;
        let line = line_of(&text, line_text);
        let located = format!("{}:{line}:", dir.path().join("spin.toml").display());
        assert!(message.contains(&located), "expected {located} in: {message}\n---\n{text}");
        assert!(message.contains(words), "expected {words:?} in: {message}");
    }
}

#[test]
fn the_binary_prints_the_location_and_exits_1() {
    let dir = tempfile::tempdir().expect("temp");
    let text = good(&wasm()).replace("key_value_stores =", "key_value_storez =");
    let path = dir.path().join("spin.toml");
    std::fs::write(&path, &text).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_spin-host"))
        .args(["up", "--listen", "127.0.0.1:0", "--from"])
        .arg(&path)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .env("SPIN_VARIABLE_TOKEN", "t")
        .output()
        .expect("run spin-host");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!("{}:{}:", path.display(), line_of(&text, "key_value_storez"));
    assert!(stderr.contains(&expected) && stderr.contains("unknown field `key_value_storez`"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_manifest_or_wasm_file_is_named() {
    let dir = tempfile::tempdir().expect("temp");
    let mut start = Start::fixture("hello.toml");
    start.options.manifest = dir.path().join("nope.toml");
    let e = format!("{:#}", start.load().await.err().expect("no manifest"));
    assert!(e.contains("nope.toml") && e.contains("cannot read manifest"), "{e}");
    let text = good(Path::new("/nowhere/missing.wasm"));
    let e = load_error(dir.path(), &text).await;
    assert!(e.contains("/nowhere/missing.wasm") && e.contains("spin-host build"), "{e}");
}

#[test]
fn build_runs_each_components_command_in_its_workdir() {
    let dir = tempfile::tempdir().expect("temp");
    std::fs::create_dir_all(dir.path().join("sub")).expect("mkdir");
    let manifest = dir.path().join("spin.toml");
    std::fs::write(
        &manifest,
        r#"spin_manifest_version = 2
[application]
name = "b"
[[trigger.http]]
route = "/a/..."
component = "a"
[[trigger.http]]
route = "/b/..."
component = "b"
[component.a]
source = "a.wasm"
[component.a.build]
command = "echo built-a > marker-a"
[component.b]
source = "b.wasm"
[component.b.build]
command = ["echo one > marker-b", "echo two >> marker-b"]
workdir = "sub"
"#,
    )
    .expect("write");
    spin_host::build_cmd::build(&manifest, &[]).expect("build");
    assert_eq!(std::fs::read_to_string(dir.path().join("marker-a")).expect("marker a").trim(), "built-a");
    assert_eq!(std::fs::read_to_string(dir.path().join("sub/marker-b")).expect("marker b"), "one\ntwo\n");

    // Only the components asked for.
    std::fs::remove_file(dir.path().join("marker-a")).expect("rm");
    spin_host::build_cmd::build(&manifest, &["b".to_string()]).expect("build b");
    assert!(!dir.path().join("marker-a").exists());

    // A failing command stops the build and names its component.
    let failing = std::fs::read_to_string(&manifest).expect("read").replace("echo built-a > marker-a", "exit 3");
    std::fs::write(&manifest, failing).expect("write");
    let e = spin_host::build_cmd::build(&manifest, &[]).expect_err("fails");
    assert!(format!("{e:#}").contains("component \"a\""), "{e:#}");
}
