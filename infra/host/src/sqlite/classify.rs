//! The statement classifier: what the host must know about a statement
//! before running it (does it write, end a transaction, leave connection
//! state behind), read from its first words.
//!
//! Pure text: must not touch connections or SQLite.

/// What the host needs to know about a statement before running it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Kind {
    /// `BEGIN IMMEDIATE` / `BEGIN EXCLUSIVE`: takes the write lock at once.
    pub(super) begins_write: bool,
    /// Plain DML, a query or transaction control: leaves no connection
    /// state behind once the transaction ends. Anything else (`PRAGMA`,
    /// `ATTACH`, `CREATE TEMP ...`, other DDL, `EXPLAIN`, ...) may.
    pub(super) clean: bool,
    /// Starts like an INSERT, UPDATE or DELETE (`WITH` may be one).
    pub(super) dml: bool,
    /// Writes for certain: `BEGIN IMMEDIATE` / `EXCLUSIVE`, or starts with
    /// INSERT, UPDATE, DELETE or REPLACE (a `WITH` may only read).
    pub(super) surely_writes: bool,
    /// Ends the transaction: `COMMIT` / `END`, or `ROLLBACK` (not `ROLLBACK TO`).
    pub(super) end: Option<TxEnd>,
}

/// How a statement ends a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TxEnd {
    Commit,
    Rollback,
}

/// Words of the statement, skipping whitespace and SQL comments.
pub(super) fn words(sql: &str) -> impl Iterator<Item = &str> {
    let mut rest = sql;
    std::iter::from_fn(move || loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r);
        } else if rest.is_empty() {
            return None;
        } else {
            // A word, or else one other character.
            let end = match rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                Some(0) => rest.chars().next().map_or(1, char::len_utf8),
                Some(end) => end,
                None => rest.len(),
            };
            let (word, after) = rest.split_at(end);
            rest = after;
            return Some(word);
        }
    })
}

pub(super) fn classify(sql: &str) -> Kind {
    const CLEAN: [&str; 13] = [
        "SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "WITH", "VALUES", "BEGIN", "COMMIT", "END", "ROLLBACK",
        "SAVEPOINT", "RELEASE",
    ];
    const DML: [&str; 5] = ["INSERT", "UPDATE", "DELETE", "REPLACE", "WITH"];
    let mut w = words(sql);
    let first = w.next().unwrap_or_default();
    let is = |list: &[&str]| list.iter().any(|c| first.eq_ignore_ascii_case(c));
    let second = w.next();
    let begins_write = first.eq_ignore_ascii_case("BEGIN")
        && second.is_some_and(|second| second.eq_ignore_ascii_case("IMMEDIATE") || second.eq_ignore_ascii_case("EXCLUSIVE"));
    let surely_writes = begins_write || is(&DML[..4]);
    // `COMMIT|END [TRANSACTION]` or `ROLLBACK [TRANSACTION]`, then only `;`s
    // (`ROLLBACK TO` a savepoint ends nothing).
    let end = if is(&["COMMIT", "END", "ROLLBACK"]) {
        let mut next = second;
        if next.is_some_and(|n| n.eq_ignore_ascii_case("TRANSACTION")) {
            next = w.next();
        }
        while next == Some(";") {
            next = w.next();
        }
        match next {
            Some(_) => None,
            None if first.eq_ignore_ascii_case("ROLLBACK") => Some(TxEnd::Rollback),
            None => Some(TxEnd::Commit),
        }
    } else {
        None
    };
    Kind { begins_write, clean: is(&CLEAN), dml: is(&DML), surely_writes, end }
}

#[cfg(test)]
mod tests {
    use super::{classify, words, Kind, TxEnd};

    #[test]
    fn statements_are_classified() {
        let k = |begins_write, clean, dml, surely_writes| Kind { begins_write, clean, dml, surely_writes, end: None };
        let ends = |end| Kind { end: Some(end), ..k(false, true, false, false) };
        for (sql, kind) in [
            ("BEGIN IMMEDIATE", k(true, true, false, true)),
            ("begin immediate transaction", k(true, true, false, true)),
            ("  BEGIN\nEXCLUSIVE", k(true, true, false, true)),
            ("BEGIN EXCLUSIVE;", k(true, true, false, true)),
            ("/* tx */ BEGIN -- now\n IMMEDIATE", k(true, true, false, true)),
            ("BEGIN", k(false, true, false, false)),
            ("BEGIN DEFERRED", k(false, true, false, false)),
            ("COMMIT", ends(TxEnd::Commit)),
            ("commit transaction;", ends(TxEnd::Commit)),
            ("end transaction", ends(TxEnd::Commit)),
            ("END;;", ends(TxEnd::Commit)),
            ("ROLLBACK", ends(TxEnd::Rollback)),
            ("rollback transaction -- undo\n", ends(TxEnd::Rollback)),
            ("ROLLBACK TO sp", k(false, true, false, false)),
            ("ROLLBACK TRANSACTION TO SAVEPOINT sp", k(false, true, false, false)),
            ("COMMIT; SELECT 1", k(false, true, false, false)),
            ("SELECT 'BEGIN IMMEDIATE'", k(false, true, false, false)),
            ("with x AS (SELECT 1) SELECT * FROM x", k(false, true, true, false)),
            ("INSERT INTO t VALUES (1)", k(false, true, true, true)),
            ("REPLACE INTO t VALUES (1)", k(false, true, true, true)),
            ("update t SET a = 1", k(false, true, true, true)),
            ("DELETE FROM t", k(false, true, true, true)),
            ("PRAGMA foreign_keys = OFF", k(false, false, false, false)),
            ("pragma foreign_keys", k(false, false, false, false)),
            ("CREATE TEMP TABLE t (a)", k(false, false, false, false)),
            ("CREATE TABLE t (a)", k(false, false, false, false)),
            ("ATTACH 'x.db' AS x", k(false, false, false, false)),
            ("EXPLAIN SELECT 1", k(false, false, false, false)),
            ("-- only a comment", k(false, false, false, false)),
            ("", k(false, false, false, false)),
            ("(SELECT 1)", k(false, false, false, false)),
            ("é", k(false, false, false, false)),
        ] {
            assert_eq!(classify(sql), kind, "{sql:?}");
        }
    }

    #[test]
    fn words_skip_comments() {
        assert_eq!(words("/* a */ SELECT -- b\n x").collect::<Vec<_>>(), ["SELECT", "x"]);
        assert_eq!(words("/* unterminated").count(), 0);
    }
}
