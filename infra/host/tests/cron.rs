//! The cron trigger (`fermyon:spin-cron@2.0.0`): ticks on schedule, a tick
//! fired on demand (in-process and with `spin-host cron`), failing ticks, and
//! cron mistakes caught at load.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

async fn ticks(app: &TestApp) -> Json {
    app.results_at("/read", json!([{ "op": "wkv.increment", "store": "default", "key": "cron-ticks", "delta": 0 }])).await[0]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_fired_now_runs_the_handler() {
    let app = Start::fixture("cron.toml").start().await;
    assert_eq!(app.host.cron_schedules(), vec![("ticker".to_string(), "* * * * * *".to_string())]);
    let before = chrono::Utc::now().timestamp();
    app.host.fire_cron("ticker").await.expect("tick");
    app.host.fire_cron("ticker").await.expect("tick");
    assert_eq!(ticks(&app).await, ok(json!(2)));
    let last = app.results_at("/read", json!([{ "op": "wkv.get", "store": "default", "key": "cron-last" }])).await;
    let stamp: i64 = last[0]["ok"].as_str().unwrap_or_default().parse().expect("timestamp");
    assert!((before..=before + 5).contains(&stamp), "{stamp} vs {before}");
    let e = app.host.fire_cron("nope").await.expect_err("no such component");
    assert!(format!("{e:#}").contains("\"nope\""), "{e:#}");
    let e = app.host.fire_cron("reader").await.expect_err("not a cron component");
    assert!(format!("{e:#}").contains("handle-cron-event"), "{e:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_tick_is_an_error() {
    let app = Start::fixture("cron.toml").variable("fail", "yes").start().await;
    let e = app.host.fire_cron("ticker").await.expect_err("the tick fails");
    assert!(format!("{e:#}").contains("the cron fixture was asked to fail"), "{e:#}");
    assert_eq!(ticks(&app).await, ok(json!(0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticks_follow_the_schedule() {
    // Schedule "* * * * * *": a tick on each second, one at a time. Wait
    // (generously) for three ticks, then check they came on three
    // different seconds after the start: fired by the schedule, not at once.
    let app = Start::fixture("cron.toml").start().await;
    let started = chrono::Utc::now().timestamp();
    let tasks = app.host.start_cron();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut n = 0;
    while n < 3 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        n = ticks(&app).await["ok"].as_i64().unwrap_or_default();
    }
    for t in &tasks {
        t.abort();
    }
    for t in tasks {
        let _ = t.await;
    }
    assert!(n >= 3, "{n} ticks in 30 s");
    let last = app.results_at("/read", json!([{ "op": "wkv.get", "store": "default", "key": "cron-last" }])).await;
    let stamp: i64 = last[0]["ok"].as_str().unwrap_or_default().parse().expect("timestamp");
    assert!(stamp >= started + 2, "tick {n} stamped {stamp}, {} s after the start", stamp - started);
    // A stopped schedule leaves no tick running.
    assert_eq!(app.host.live_instances(), 0);
}

#[test]
fn spin_host_cron_fires_one_tick_and_exits() {
    let dir = tempfile::tempdir().expect("temp");
    let state = dir.path().join("state");
    let run = |fail: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_spin-host"))
            .arg("cron")
            .arg("ticker")
            .arg("--from")
            .arg(fixture("cron.toml"))
            .arg("--state-dir")
            .arg(&state)
            .arg("--variable")
            .arg(format!("fail={fail}"))
            .output()
            .expect("run spin-host cron")
    };
    let out = run("no");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run("yes");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("asked to fail"), "{}", String::from_utf8_lossy(&out.stderr));
    // The successful tick wrote to the state directory's store.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let app = Start::fixture("cron.toml").state_dir(&state).start().await;
        assert_eq!(ticks(&app).await, ok(json!(1)));
    });
}

fn manifest_with(dir: &Path, cron: &str, wasm: &str) -> std::path::PathBuf {
    let release = fixture("cron.toml").parent().expect("apps").join("../../../../target/wasm32-wasip2/release");
    let path = dir.join("spin.toml");
    let text = format!(
        "spin_manifest_version = 2\n[application]\nname = \"c\"\n[[trigger.cron]]\ncomponent = \"c\"\ncron_expression = \"{cron}\"\n[component.c]\nsource = \"{}/{wasm}\"\n",
        release.display()
    );
    std::fs::write(&path, text).expect("write");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_mistakes_stop_the_app_at_load() {
    let dir = tempfile::tempdir().expect("temp");
    let mut five_fields = Start::fixture("cron.toml");
    five_fields.options.manifest = manifest_with(dir.path(), "*/15 * * * *", "fixture_cron.wasm");
    let e = five_fields.load().await.err().expect("five fields");
    assert!(format!("{e:#}").contains("six"), "{e:#}");
    let mut not_cron = Start::fixture("cron.toml");
    not_cron.options.manifest = manifest_with(dir.path(), "0 * * * * *", "fixture_hello.wasm");
    let e = not_cron.load().await.err().expect("not a cron component");
    assert!(format!("{e:#}").contains("does not export `handle-cron-event`"), "{e:#}");
}
