//! SQLite (`fermyon:spin/sqlite@2.0.0`): typed values, positional
//! parameters, errors as values, transactions spanning `execute` calls, and
//! Spin's grant rules.

mod common;

use common::*;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn sql(statement: &str, params: Json) -> Json {
    json!({ "op": "sql", "db": "default", "statement": statement, "params": params })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_parameters_and_typed_rows() {
    let app = Start::probe().start().await;
    let r = app
        .probe(json!([
            sql("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL, raw BLOB, note TEXT)", json!([])),
            sql("INSERT INTO t (name, score, raw, note) VALUES (?, ?, ?, ?)", json!(["ann", 2.5, [1, 2, 255], null])),
            sql("INSERT INTO t (name, score) VALUES (?, ?)", json!(["bob", 7])),
            sql("SELECT id, name, score, raw, note FROM t ORDER BY id", json!([])),
            sql("SELECT count(*) AS n FROM t WHERE name = ?", json!(["nobody"])),
        ]))
        .await;
    assert_eq!(r[0], ok(json!({ "columns": [], "rows": [] })));
    assert_eq!(
        r[3],
        ok(json!({
            "columns": ["id", "name", "score", "raw", "note"],
            "rows": [
                [{ "integer": 1 }, { "text": "ann" }, { "real": 2.5 }, { "blob": [1, 2, 255] }, "null"],
                [{ "integer": 2 }, { "text": "bob" }, { "real": 7.0 }, "null", "null"],
            ],
        }))
    );
    assert_eq!(r[4], ok(json!({ "columns": ["n"], "rows": [[{ "integer": 0 }]] })));
    // Spin's default database is a file in the state directory.
    assert!(app.state_dir.join("sqlite_db.db").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sql_is_an_error_value_not_a_trap() {
    let app = Start::probe().start().await;
    let r = app
        .probe(json!([
            sql("SELEC 1", json!([])),
            sql("SELECT * FROM no_such_table", json!([])),
            sql("SELECT 1; SELECT 2", json!([])),
            sql("SELECT ?", json!([])),
            sql("CREATE TABLE u (k TEXT PRIMARY KEY)", json!([])),
            sql("INSERT INTO u VALUES ('a')", json!([])),
            sql("INSERT INTO u VALUES ('a')", json!([])),
            // The instance is still healthy afterwards.
            sql("SELECT 41 + 1", json!([])),
        ]))
        .await;
    for (i, e) in r[..4].iter().enumerate() {
        assert!(e["err"].as_str().unwrap_or_default().starts_with("io: "), "statement {i}: {e}");
    }
    assert!(r[6]["err"].as_str().unwrap_or_default().contains("UNIQUE"), "{}", r[6]);
    assert_eq!(r[7]["ok"]["rows"], json!([[{ "integer": 42 }]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_span_execute_calls_and_end_with_the_connection() {
    let app = Start::probe().start().await;
    let tx = |statements: Json| json!({ "op": "sql.tx", "db": "default", "statements": statements });
    let r = app
        .probe(json!([
            sql("CREATE TABLE ledger (amount INTEGER)", json!([])),
            tx(json!(["BEGIN", "INSERT INTO ledger VALUES (1)", "ROLLBACK"])),
            tx(json!(["BEGIN", "INSERT INTO ledger VALUES (2)", "COMMIT"])),
            // Left open: closing the connection rolls it back.
            tx(json!(["BEGIN", "INSERT INTO ledger VALUES (3)"])),
            sql("SELECT sum(amount) FROM ledger", json!([])),
        ]))
        .await;
    assert_eq!(r[4]["ok"]["rows"], json!([[{ "integer": 2 }]]), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_start_with_the_same_settings_as_spin() {
    let app = Start::probe().start().await;
    // Spin's SQLite (rusqlite's bundled build) enforces foreign keys on every
    // new connection; a guest that turns that off does not leak it to the next open.
    let r = app
        .probe(json!([
            sql("PRAGMA foreign_keys", json!([])),
            json!({ "op": "sql.tx", "db": "default", "statements": ["PRAGMA foreign_keys = OFF", "PRAGMA foreign_keys"] }),
            sql("PRAGMA foreign_keys", json!([])),
            sql("CREATE TABLE parent (id INTEGER PRIMARY KEY)", json!([])),
            sql("CREATE TABLE child (parent_id INTEGER REFERENCES parent(id))", json!([])),
            sql("INSERT INTO child VALUES (99)", json!([])),
        ]))
        .await;
    assert_eq!(r[0]["ok"]["rows"], json!([[{ "integer": 1 }]]), "{r:?}");
    assert_eq!(r[2]["ok"]["rows"], json!([[{ "integer": 1 }]]), "{r:?}");
    assert!(r[5]["err"].as_str().unwrap_or_default().contains("FOREIGN KEY"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn databases_need_a_grant() {
    let app = Start::probe().start().await;
    let bare = app
        .results_at(
            "/bare/x",
            json!([
                { "op": "sql", "db": "default", "statement": "SELECT 1" },
                { "op": "sql", "db": "elsewhere", "statement": "SELECT 1" },
            ]),
        )
        .await;
    assert_eq!(bare, vec![err("access-denied"), err("access-denied")]);
    let probe = app.probe_one(json!({ "op": "sql", "db": "elsewhere", "statement": "SELECT 1" })).await;
    assert_eq!(probe, err("access-denied"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_wait_for_each_other() {
    let app = Start::probe().start().await;
    app.probe_one(sql("CREATE TABLE hits (n INTEGER)", json!([]))).await;
    let mut requests = Vec::new();
    for i in 0..30 {
        let client = app.client.clone();
        let url = app.url("/probe/w");
        requests.push(tokio::spawn(async move {
            let body = json!({ "ops": [sql("INSERT INTO hits VALUES (?)", json!([i]))] });
            let answer: Json = client.post(url).json(&body).send().await.expect("send").json().await.expect("JSON");
            answer["results"][0].clone()
        }));
    }
    for r in requests {
        assert!(r.await.expect("task")["ok"].is_object());
    }
    let count = app.probe_one(sql("SELECT count(*) FROM hits", json!([]))).await;
    assert_eq!(count["ok"]["rows"], json!([[{ "integer": 30 }]]));
}

/// Hold the write lock of the database file at `path` from a connection of
/// its own (as another process would), in bursts of `hold` with `gap`
/// between them, until `stop` is set or `limit` passes; counts the bursts
/// in `bursts`.
fn hold_write_lock_in_bursts(
    path: std::path::PathBuf,
    (hold, gap, limit): (Duration, Duration, Duration),
    bursts: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(path).expect("open the database file");
        conn.busy_timeout(Duration::from_secs(5)).expect("busy timeout");
        let started = std::time::Instant::now();
        while !stop.load(Ordering::Acquire) && started.elapsed() < limit {
            conn.execute_batch("BEGIN IMMEDIATE; INSERT INTO hits VALUES (-1)").expect("take the write lock");
            std::thread::sleep(hold);
            conn.execute_batch("COMMIT").expect("commit");
            bursts.fetch_add(1, Ordering::AcqRel);
            std::thread::sleep(gap);
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_gets_through_the_gaps_of_another_process_that_keeps_writing() {
    // Another process that writes the same file without pause frees the
    // lock only between its commits; a waiting guest statement must catch
    // one of the first of those gaps, not wait out SQLite's growing
    // back-off (it got in after 18-27 bursts with that, 0-1 with polling).
    let app = Start::probe().start().await;
    app.probe_one(sql("CREATE TABLE hits (n INTEGER)", json!([]))).await;
    let (bursts, stop) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicBool::new(false)));
    let timing = (Duration::from_millis(40), Duration::from_millis(4), Duration::from_secs(8));
    let holder = hold_write_lock_in_bursts(app.state_dir.join("sqlite_db.db"), timing, bursts.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(20)).await;
    let before = bursts.load(Ordering::Acquire);
    let inserted = app.probe_one(sql("INSERT INTO hits VALUES (?)", json!([7]))).await;
    let waited_through = bursts.load(Ordering::Acquire) - before;
    stop.store(true, Ordering::Release);
    tokio::task::spawn_blocking(move || holder.join().expect("holder")).await.expect("join");
    assert_eq!(inserted, ok(json!({ "columns": [], "rows": [] })));
    assert!(waited_through <= 5, "the statement waited through {waited_through} of the other writer's bursts");
    let rows = app.probe_one(sql("SELECT count(*) FROM hits WHERE n = 7", json!([]))).await;
    assert_eq!(rows["ok"]["rows"], json!([[{ "integer": 1 }]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_open_looks_like_a_new_connection() {
    // The host reuses connections between guests; none of this may show.
    let app = Start::probe().start().await;
    let tx = |statements: Json| json!({ "op": "sql.tx", "db": "default", "statements": statements });
    let r = app
        .probe(json!([
            sql("CREATE TABLE n (a INTEGER)", json!([])),
            sql("CREATE TABLE seen (rowid_ INTEGER, changes_ INTEGER, total_ INTEGER)", json!([])),
            // Another guest inserts, leaves a temp table and a setting behind...
            tx(json!(["INSERT INTO n VALUES (1)", "INSERT INTO n VALUES (2)", "CREATE TEMP TABLE mine (x)", "PRAGMA recursive_triggers = ON"])),
            tx(json!(["INSERT INTO n VALUES (3)", "UPDATE n SET a = a + 1"])),
            // ...the next open starts from zero, then counts its own changes.
            sql("SELECT last_insert_rowid(), changes(), total_changes()", json!([])),
            tx(json!([
                "INSERT INTO n VALUES (10)",
                "INSERT INTO seen SELECT last_insert_rowid(), changes(), total_changes()",
            ])),
            sql("SELECT rowid_, changes_, total_ FROM seen", json!([])),
            sql("SELECT count(*) FROM temp.sqlite_master", json!([])),
            sql("PRAGMA recursive_triggers", json!([])),
            // Within one open, outside transactions too: its own counters,
            // its own settings and temp tables (each SELECT returns a row only if so).
            tx(json!([
                "INSERT INTO n VALUES (11)",
                "SELECT 1 WHERE last_insert_rowid() = 5 AND changes() = 1 AND total_changes() = 1",
                "UPDATE n SET a = a WHERE a > 100",
                "SELECT 1 WHERE last_insert_rowid() = 5 AND changes() = 0 AND total_changes() = 1",
                "PRAGMA foreign_keys = OFF",
                "SELECT 1 FROM pragma_foreign_keys WHERE foreign_keys = 0",
                "CREATE TEMP TABLE tt (x)",
                "INSERT INTO tt VALUES (1)",
                "SELECT x FROM tt",
                "SELECT 1 WHERE last_insert_rowid() = 1 AND changes() = 1 AND total_changes() = 2",
            ])),
        ]))
        .await;
    let rows = |i: usize| r[i]["ok"]["rows"].clone();
    assert_eq!(rows(4), json!([[{ "integer": 0 }, { "integer": 0 }, { "integer": 0 }]]), "{r:?}");
    // The 10 is the table's 4th row; its INSERT changed one row, the only change of that open.
    assert_eq!(rows(6), json!([[{ "integer": 4 }, { "integer": 1 }, { "integer": 1 }]]), "{r:?}");
    assert_eq!(rows(7), json!([[{ "integer": 0 }]]), "{r:?}");
    assert_eq!(rows(8), json!([[{ "integer": 0 }]]), "{r:?}");
    let own: Vec<Json> = [0, 1, 0, 1, 0, 1, 0, 0, 1, 1].iter().map(|n| json!({ "ok": n })).collect();
    assert_eq!(r[9], ok(Json::from(own)), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_transaction_left_open_ends_with_the_guest() {
    let app = Start::probe().start().await;
    let tx = |statements: Json| json!({ "op": "sql.tx", "db": "default", "statements": statements });
    app.probe_one(sql("CREATE TABLE t (a INTEGER)", json!([]))).await;
    // Left open in a write transaction (the instance ends without COMMIT)...
    let first = app.probe_one(tx(json!(["BEGIN IMMEDIATE", "INSERT INTO t VALUES (1)"]))).await;
    assert_eq!(first, ok(json!([{ "ok": 0 }, { "ok": 0 }])), "{first:?}");
    // ...the next writer gets the lock at once, and the first insert is gone.
    let next = app.probe_one(tx(json!(["BEGIN IMMEDIATE", "INSERT INTO t VALUES (2)", "COMMIT"]))).await;
    assert_eq!(next, ok(json!([{ "ok": 0 }, { "ok": 0 }, { "ok": 0 }])), "{next:?}");
    let sum = app.probe_one(sql("SELECT sum(a) FROM t", json!([]))).await;
    assert_eq!(sum["ok"]["rows"], json!([[{ "integer": 2 }]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_queued_for_their_turn_hold_no_connection() {
    // One writer holds the turn while a slow statement runs; the others
    // queue behind it. Each queued writer holding a pooled connection made
    // the pool open (and parse the schema for) a connection per request.
    let app = Start::probe().start().await;
    app.probe_one(sql("CREATE TABLE hits (n INTEGER)", json!([]))).await;
    let before = app.host.sqlite_connections_opened();
    let writers = 120;
    let mut requests = Vec::new();
    for i in 0..writers {
        let client = app.client.clone();
        let url = app.url("/probe/w");
        let statements = json!([
            "BEGIN IMMEDIATE",
            format!("INSERT INTO hits VALUES ({i})"),
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000) SELECT count(*) FROM c",
            "COMMIT",
        ]);
        requests.push(tokio::spawn(async move {
            let body = json!({ "ops": [{ "op": "sql.tx", "db": "default", "statements": statements }] });
            let answer: Json = client.post(url).json(&body).send().await.expect("send").json().await.expect("JSON");
            answer["results"][0].clone()
        }));
    }
    for r in requests {
        let r = r.await.expect("task");
        assert_eq!(r["ok"], json!([{ "ok": 0 }, { "ok": 0 }, { "ok": 1 }, { "ok": 0 }]), "{r:?}");
    }
    let count = app.probe_one(sql("SELECT count(*) FROM hits", json!([]))).await;
    assert_eq!(count["ok"]["rows"], json!([[{ "integer": writers }]]));
    // Only the session holding the turn holds a connection, whatever the
    // scheduling: the writer connection (reused turn after turn) and the
    // background checkpointer's are all these writers need. A queued writer
    // holding a pooled connection would open one per writer queued at once.
    let opened = app.host.sqlite_connections_opened() - before;
    assert!(opened <= 8, "{opened} connections opened for {writers} queued writers");
}

/// Send `statements` as one `sql.tx` op, then each of `after` as a `sql`
/// op, in one request to the probe; the results.
async fn tx_then(app: &TestApp, statements: Json, after: Vec<Json>) -> Json {
    let mut ops = vec![json!({ "op": "sql.tx", "db": "default", "statements": statements })];
    ops.extend(after);
    let body = json!({ "ops": ops });
    let answer: Json = app.client.post(app.url("/probe/w")).json(&body).send().await.expect("send").json().await.expect("JSON");
    answer["results"].clone()
}

/// A statement that keeps a transaction busy for a moment, so that writers queue.
const SLOW: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000) SELECT count(*) FROM c";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_write_transactions_commit_together() {
    // Writers queued behind each other share one WAL commit; each COMMIT
    // still answers only once its transaction is committed.
    let app = std::sync::Arc::new(Start::probe().start().await);
    app.probe_one(sql("CREATE TABLE hits (n INTEGER PRIMARY KEY)", json!([]))).await;
    let before = app.host.sqlite_commits();
    let writers = 80;
    let outcomes = concurrent_transactions(&app, writers, |i| {
        json!(["BEGIN IMMEDIATE", format!("INSERT INTO hits VALUES ({i})"), SLOW, "COMMIT"])
    })
    .await;
    for (i, results, present) in outcomes {
        assert_eq!(results, [json!({ "ok": 0 }), json!({ "ok": 0 }), json!({ "ok": 1 }), json!({ "ok": 0 })], "{i}");
        // Read back on another connection right after COMMIT answered.
        assert!(present, "{i}: not committed when COMMIT answered");
    }
    let count = app.probe_one(sql("SELECT count(*) FROM hits", json!([]))).await;
    assert_eq!(count["ok"]["rows"], json!([[{ "integer": writers }]]));
    // How many share a commit depends on how many queued at once (a
    // benchmark's figure); what holds always: every transaction is in some
    // commit and no transaction is committed twice.
    let commits = app.host.sqlite_commits() - before;
    assert!((1..=writers as u64).contains(&commits), "{commits} WAL commits for {writers} transactions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grouped_transaction_that_fails_or_rolls_back_undoes_only_itself() {
    let app = std::sync::Arc::new(Start::probe().start().await);
    app.probe(json!([
        sql("CREATE TABLE hits (n INTEGER PRIMARY KEY)", json!([])),
        sql("CREATE TABLE parent (id INTEGER PRIMARY KEY)", json!([])),
        sql("CREATE TABLE child (id INTEGER, parent_id INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)", json!([])),
    ]))
    .await;
    let writers: i64 = 60;
    let before = app.host.sqlite_commits();
    let outcomes = concurrent_transactions(&app, writers, |i| {
        let insert = format!("INSERT INTO hits VALUES ({i})");
        match i % 6 {
            // Commits.
            0 => json!(["BEGIN IMMEDIATE", insert, SLOW, "COMMIT"]),
            // Rolls back.
            1 => json!(["BEGIN IMMEDIATE", insert, SLOW, "ROLLBACK"]),
            // Ends without COMMIT (the guest returns mid-transaction).
            2 => json!(["BEGIN IMMEDIATE", insert, SLOW]),
            // COMMIT fails on a deferred foreign key and leaves the transaction open; then rolls back.
            3 => json!(["BEGIN IMMEDIATE", insert, format!("INSERT INTO child VALUES ({i}, 999999)"), SLOW, "COMMIT", "ROLLBACK"]),
            // A failed statement inside, then COMMIT: the rest is committed.
            4 => json!(["BEGIN IMMEDIATE", insert.clone(), insert, SLOW, "COMMIT"]),
            // Leaves connection state (a temp table) inside its transaction, then commits.
            _ => json!(["BEGIN IMMEDIATE", insert, "CREATE TEMP TABLE mine (x)", SLOW, "COMMIT"]),
        }
    })
    .await;
    for (i, results, _) in outcomes {
        let r = &results;
        assert!(results[..2].iter().all(|s| s == &json!({ "ok": 0 })), "{i}: {r:?}");
        match i % 6 {
            3 => {
                let commit = results[4]["err"].as_str().unwrap_or_default();
                assert!(commit.starts_with("io: FOREIGN KEY constraint failed"), "{i}: {r:?}");
                assert_eq!(results[5], json!({ "ok": 0 }), "{i}: {r:?}");
            }
            4 => {
                assert!(results[2]["err"].as_str().unwrap_or_default().contains("UNIQUE"), "{i}: {r:?}");
                assert_eq!(results[4], json!({ "ok": 0 }), "{i}: {r:?}");
            }
            2 => assert_eq!(results.len(), 3, "{i}: {r:?}"),
            _ => assert_eq!(results.last(), Some(&json!({ "ok": 0 })), "{i}: {r:?}"),
        }
    }
    // At most one WAL commit per transaction that committed (fewer when grouped).
    let commits = app.host.sqlite_commits() - before;
    assert!(commits <= 30, "{commits} WAL commits for 30 committed transactions");
    let kept = app.probe_one(sql("SELECT group_concat(n) FROM (SELECT n FROM hits ORDER BY n)", json!([]))).await;
    let expected: Vec<String> = (0..writers).filter(|i| matches!(i % 6, 0 | 4 | 5)).map(|i| i.to_string()).collect();
    assert_eq!(kept["ok"]["rows"], json!([[{ "text": expected.join(",") }]]));
    let children = app.probe_one(sql("SELECT count(*) FROM child", json!([]))).await;
    assert_eq!(children["ok"]["rows"], json!([[{ "integer": 0 }]]));
    // The next write transactions (on the writer connection) see no temp table left behind.
    for _ in 0..3 {
        let seen = tx_then(&app, json!(["BEGIN IMMEDIATE", "SELECT 1 FROM temp.sqlite_master WHERE name = 'mine'", "COMMIT"]), Vec::new()).await;
        assert_eq!(seen[0]["ok"], json!([{ "ok": 0 }, { "ok": 0 }, { "ok": 0 }]), "{seen:?}");
    }
}

/// Run `writers` transactions at once, writer `i` running
/// `statements(i)` on one connection and then reading back on another
/// whether row `i` of `hits` is there. Per writer, in order: its number,
/// its statement results, and whether its row was there right after.
async fn concurrent_transactions(
    app: &std::sync::Arc<TestApp>,
    writers: i64,
    statements: impl Fn(i64) -> Json,
) -> Vec<(i64, Vec<Json>, bool)> {
    let mut requests = Vec::new();
    for i in 0..writers {
        let app = app.clone();
        let statements = statements(i);
        requests.push(tokio::spawn(async move {
            let r = tx_then(&app, statements, vec![sql("SELECT count(*) FROM hits WHERE n = ?", json!([i]))]).await;
            let results = r[0]["ok"].as_array().cloned().unwrap_or_default();
            (i, results, r[1]["ok"]["rows"] == json!([[{ "integer": 1 }]]))
        }));
    }
    let mut out = Vec::new();
    for r in requests {
        out.push(r.await.expect("task"));
    }
    out
}

/// [`concurrent_transactions`] inserting each writer's number into `hits`;
/// every tenth one also runs `poison` (`{i}` replaced by its number) before COMMIT.
async fn writers_with_poison(app: &std::sync::Arc<TestApp>, writers: i64, poison: &str) -> Vec<(i64, Vec<Json>, bool)> {
    concurrent_transactions(app, writers, |i| {
        let mut statements = vec![json!("BEGIN IMMEDIATE"), json!(format!("INSERT INTO hits VALUES ({i})")), json!(SLOW)];
        if i % 10 == 9 {
            statements.push(json!(poison.replace("{i}", &i.to_string())));
        }
        statements.push(json!("COMMIT"));
        Json::from(statements)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_that_can_roll_back_a_transaction_keeps_transactions_apart() {
    // A trigger's RAISE(ROLLBACK) undoes its whole transaction: in a commit
    // group that would be everyone's, so no group is formed.
    let app = std::sync::Arc::new(Start::probe().start().await);
    app.probe(json!([
        sql("CREATE TABLE hits (n INTEGER PRIMARY KEY)", json!([])),
        sql("CREATE TABLE boom (n INTEGER)", json!([])),
        sql("CREATE TRIGGER boom_rolls_back BEFORE INSERT ON boom BEGIN SELECT RAISE(ROLLBACK, 'boom'); END", json!([])),
    ]))
    .await;
    let before = app.host.sqlite_commits();
    let outcomes = writers_with_poison(&app, 40, "INSERT INTO boom VALUES (1)").await;
    for (i, results, present) in &outcomes {
        if i % 10 == 9 {
            assert!(results[3]["err"].as_str().unwrap_or_default().contains("boom"), "{i}: {results:?}");
            assert!(!present, "{i}");
        } else {
            assert_eq!(results[3], json!({ "ok": 0 }), "{i}: {results:?}");
            assert!(present, "{i}");
        }
    }
    let commits = app.host.sqlite_commits() - before;
    assert!(commits >= 36, "{commits} WAL commits for 36 committed transactions: grouped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_whose_statement_rolls_back_everything_fails_the_waiting_commits() {
    // `INSERT OR ROLLBACK` that conflicts rolls back the whole transaction,
    // and with it the commit group: every member still waiting hears that
    // its COMMIT failed; nothing is reported committed that is not.
    let app = std::sync::Arc::new(Start::probe().start().await);
    app.probe_one(sql("CREATE TABLE hits (n INTEGER PRIMARY KEY)", json!([]))).await;
    // Its own number again: a conflict, always.
    let outcomes = writers_with_poison(&app, 40, "INSERT OR ROLLBACK INTO hits VALUES ({i})").await;
    for (i, results, present) in &outcomes {
        if i % 10 == 9 {
            assert!(results[3]["err"].as_str().unwrap_or_default().contains("UNIQUE"), "{i}: {results:?}");
            assert!(!present, "{i}");
        } else if results[3] == json!({ "ok": 0 }) {
            assert!(present, "{i}: answered committed but is not there");
        } else {
            assert!(results[3]["err"].as_str().unwrap_or_default().contains("nothing was committed"), "{i}: {results:?}");
            assert!(!present, "{i}: answered not committed but is there");
        }
    }
    // The writer goes on: later transactions commit.
    let after = tx_then(&app, json!(["BEGIN IMMEDIATE", "INSERT INTO hits VALUES (1000)", "COMMIT"]), Vec::new()).await;
    assert_eq!(after[0]["ok"], json!([{ "ok": 0 }, { "ok": 0 }, { "ok": 0 }]), "{after:?}");
}
