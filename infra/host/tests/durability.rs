//! Durability as Spin's: a commit the host reports as done survives power
//! loss. The SQLite databases run in WAL mode with `synchronous=FULL` (each
//! commit syncs the WAL), which the guest can read on the connection it is
//! lent (the key-value file is checked by the host's unit tests).

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_connections_sync_every_commit() {
    let app = Start::probe().start().await;
    let r = app
        .probe(json!([
            { "op": "sql", "db": "default", "statement": "CREATE TABLE t (x INTEGER)", "params": [] },
            { "op": "sql", "db": "default", "statement": "INSERT INTO t VALUES (1)", "params": [] },
            { "op": "sql", "db": "default", "statement": "PRAGMA synchronous", "params": [] },
            { "op": "sql", "db": "default", "statement": "PRAGMA journal_mode", "params": [] },
        ]))
        .await;
    assert_eq!(r[2], ok(json!({ "columns": ["synchronous"], "rows": [[{ "integer": 2 }]] })), "FULL is 2");
    assert_eq!(r[3], ok(json!({ "columns": ["journal_mode"], "rows": [[{ "text": "wal" }]] })));
}
