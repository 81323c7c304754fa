//! Staff accounts: each person has a role, an optional property scope, an
//! API token and (for the console) a password, and signs in as themselves.
//!
//! Secrets are never stored: the API token is kept as its SHA-256 (a
//! 256-bit random token cannot be guessed, so a fast hash loses nothing and
//! keeps a request's check to one indexed lookup), the password as an
//! Argon2id PHC string (people choose guessable passwords, so a slow,
//! memory-hard hash is what protects them if the table leaks), and the
//! console session id as its SHA-256 (random too). Every change is written
//! with its audit row in one transaction.

use crate::base::db::{self, Db, DbError, Value};
use crate::base::time;
use crate::records::audit;
use crate::records::scope::Scope;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a staff member may do; each role may do everything the ones before
/// it may (the order of the variants is the order of power).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads.
    Viewer,
    /// Also works tenants: calls, promises, notes, messages, inbox, consent
    /// and per-number exclusions at the tenant's request.
    Collector,
    /// Also imports and edits configuration, runs scans and send passes.
    Manager,
    /// Also manages staff accounts.
    Admin,
}

impl Role {
    /// Every role, weakest first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Collector, Role::Manager, Role::Admin];

    /// The name used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Collector => "collector",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }

    /// Parse a role name.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// What went wrong with an account operation.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Bad input; the message says how.
    #[error("{0}")]
    Invalid(String),
    /// Another account already has this username.
    #[error("username `{0}` is taken")]
    DuplicateUsername(String),
    /// No such account.
    #[error("staff user {0} not found")]
    NotFound(i64),
    /// The password is too short.
    #[error("the password must be at least {MIN_PASSWORD_CHARS} characters")]
    WeakPassword,
    /// The password hasher failed (never the caller's fault).
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// The platform's secure random source failed.
    #[error("random source unavailable: {0}")]
    Random(String),
    /// Writing the audit row failed.
    #[error(transparent)]
    Audit(#[from] crate::base::error::Error),
    /// A stored row does not have the expected shape.
    #[error("stored staff account is inconsistent: {0}")]
    Corrupt(String),
}

type Result<T, E = AccountError> = std::result::Result<T, E>;

/// Shortest accepted password.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Every personal API token starts with this, so the API can tell it from
/// the break-glass token without a lookup, and a leaked one is easy to
/// recognise in a scanner or a log.
pub const TOKEN_PREFIX: &str = "rmsu_";
/// Every console session id starts with this.
pub const SESSION_PREFIX: &str = "rmss_";
/// A session ends this long after its last use...
pub const SESSION_IDLE: Duration = Duration::hours(2);
/// ...and at the latest this long after sign-in, however busy.
pub const SESSION_ABSOLUTE: Duration = Duration::hours(12);
/// `last_seen_at` is written at most this often, so reading pages does not
/// turn every request into a write.
const LAST_SEEN_RESOLUTION: Duration = Duration::minutes(1);

/// Argon2id cost: 19 MiB of memory, 2 passes, 1 lane (the OWASP minimum
/// for Argon2id). Measured natively at about 50 ms per sign-in (see
/// BENCHMARKS.md); wasm runs it a few times slower, still well under a
/// second per sign-in, while each guess against a leaked hash costs an
/// attacker 19 MiB and two passes over it.
const ARGON2_M_KIB: u32 = 19 * 1024;
const ARGON2_T: u32 = 2;
const ARGON2_P: u32 = 1;

fn argon2() -> Result<Argon2<'static>> {
    let params = Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, None).map_err(|e| AccountError::Hashing(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// A hash with the same parameters as real ones, of a password nobody
/// knows, verified when the username does not exist so that an unknown
/// user costs as much time as a wrong password.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2lnbi1pbi1kdW1teS1zYWx0$4C5y3ZxQK0a0JxJmTg0jPaQ1hOQyK8Vw3xlO8m8vE0U";

/// Argon2id PHC string of `password` with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AccountError::Random(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AccountError::Hashing(e.to_string()))?;
    Ok(argon2()?.hash_password(password.as_bytes(), &salt).map_err(|e| AccountError::Hashing(e.to_string()))?.to_string())
}

/// Does `password` match the stored PHC string? A malformed hash matches
/// nothing (fail closed). The comparison inside is constant-time.
pub fn verify_password(phc: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else { return false };
    let Ok(a) = argon2() else { return false };
    a.verify_password(password.as_bytes(), &parsed).is_ok()
}

/// Spend the time of one password check on nothing (unknown usernames).
pub fn verify_dummy(password: &str) {
    let _ = verify_password(DUMMY_HASH, password);
}

/// 32 random bytes, URL-safe base64, after `prefix`.
fn random_secret(prefix: &str) -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AccountError::Random(e.to_string()))?;
    Ok(format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
}

/// Hex SHA-256 of a high-entropy secret (token or session id).
pub fn secret_hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A staff account as the API shows it (never a token or a hash).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StaffUser {
    /// Row id.
    pub id: i64,
    /// Sign-in name.
    pub username: String,
    /// Name shown in the console.
    pub display_name: String,
    pub role: Role,
    /// Properties this person may see; empty for every property.
    pub property_ids: Vec<String>,
    /// A disabled account cannot sign in or use its token.
    pub disabled: bool,
    /// Whether a console password is set.
    pub has_password: bool,
    /// Created (RFC 3339 UTC).
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
}

impl StaffUser {
    /// The account's property scope.
    pub fn scope(&self) -> Scope {
        Scope::from_list(Some(self.property_ids.clone()))
    }

    /// How the audit log names this account.
    pub fn actor(&self) -> String {
        actor_for(&self.username)
    }
}

/// How the audit log names an account.
pub fn actor_for(username: &str) -> String {
    format!("user:{username}")
}

const COLUMNS: &str = "id, username, display_name, role, property_ids, disabled, password_hash IS NOT NULL AS has_password, created_at, updated_at";

fn from_row(r: db::Row<'_>) -> Result<StaffUser> {
    let role = r.str("role")?;
    let property_ids: Vec<String> = match r.opt_str("property_ids")? {
        None => Vec::new(),
        Some(s) => serde_json::from_str(s).map_err(|e| AccountError::Corrupt(e.to_string()))?,
    };
    Ok(StaffUser {
        id: r.i64("id")?,
        username: r.string("username")?,
        display_name: r.string("display_name")?,
        role: Role::parse(role).ok_or_else(|| AccountError::Corrupt(format!("role `{role}`")))?,
        property_ids,
        disabled: r.i64("disabled")? != 0,
        has_password: r.i64("has_password")? != 0,
        created_at: r.string("created_at")?,
        updated_at: r.string("updated_at")?,
    })
}

fn valid_username(u: &str) -> bool {
    !u.is_empty() && u.len() <= 64 && u.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b))
}

/// Property ids as stored: NULL for every property.
fn stored_scope(ids: &Option<Vec<String>>) -> Result<Value> {
    match ids {
        Some(ids) if !ids.is_empty() => {
            if ids.iter().any(|p| p.trim().is_empty()) {
                return Err(AccountError::Invalid("property_ids must not contain empty ids".into()));
            }
            Ok(Value::Text(serde_json::to_string(ids).map_err(|e| AccountError::Corrupt(e.to_string()))?))
        }
        _ => Ok(Value::Null),
    }
}

fn check_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::WeakPassword);
    }
    Ok(())
}

/// A new account.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    /// Sign-in name: letters, digits, `._@-`, at most 64.
    pub username: &'a str,
    /// Shown name (the username when absent).
    pub display_name: Option<&'a str>,
    pub role: Role,
    /// Property scope; none or empty for every property.
    pub property_ids: Option<Vec<String>>,
    /// Console password, if any.
    pub password: Option<&'a str>,
}

/// Every account, by username.
pub fn list(db: &dyn Db) -> Result<Vec<StaffUser>> {
    db.execute(&format!("SELECT {COLUMNS} FROM staff_users ORDER BY username"), &[])?.iter().map(from_row).collect()
}

/// One account.
pub fn get(db: &dyn Db, id: i64) -> Result<Option<StaffUser>> {
    db.execute(&format!("SELECT {COLUMNS} FROM staff_users WHERE id = ?"), &[id.into()])?.first().map(from_row).transpose()
}

fn require(db: &dyn Db, id: i64) -> Result<StaffUser> {
    get(db, id)?.ok_or(AccountError::NotFound(id))
}

fn target(id: i64) -> String {
    format!("staff_user:{id}")
}

/// Create an account; returns it and its API token (shown this once).
pub fn create(db: &dyn Db, new: &NewUser<'_>, actor: &str, now: DateTime<Utc>) -> Result<(StaffUser, String)> {
    let username = new.username.trim();
    if !valid_username(username) {
        return Err(AccountError::Invalid("username: letters, digits and ._@- only, 1 to 64 characters".into()));
    }
    let password_hash = match new.password {
        Some(p) => {
            check_password(p)?;
            Some(hash_password(p)?)
        }
        None => None,
    };
    let token = random_secret(TOKEN_PREFIX)?;
    let scope = stored_scope(&new.property_ids)?;
    let display = new.display_name.map(str::trim).filter(|d| !d.is_empty()).unwrap_or(username);
    let at = time::timestamp(now);
    let user = db::transaction(db, |tx| {
        if !tx.execute("SELECT 1 AS x FROM staff_users WHERE username = ?", &[username.into()])?.is_empty() {
            return Err(AccountError::DuplicateUsername(username.to_owned()));
        }
        let rows = tx.execute(
            "INSERT INTO staff_users (username, display_name, role, property_ids, token_hash, password_hash, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            &[
                username.into(),
                display.into(),
                new.role.as_str().into(),
                scope.clone(),
                secret_hash(&token).into(),
                password_hash.into(),
                at.as_str().into(),
                at.as_str().into(),
            ],
        )?;
        let id = rows.first().map(|r| r.i64("id")).transpose()?.ok_or_else(|| AccountError::Corrupt("no id".into()))?;
        let user = require(tx, id)?;
        let detail = serde_json::json!({ "username": user.username, "role": user.role, "property_ids": user.property_ids });
        audit::record(tx, actor, "staff_user.create", &target(id), &detail, now)?;
        Ok(user)
    })?;
    Ok((user, token))
}

/// What a `PATCH` may change.
#[derive(Debug, Clone, Default)]
pub struct Patch {
    /// New role.
    pub role: Option<Role>,
    /// New shown name.
    pub display_name: Option<String>,
    /// New scope (`Some(vec![])` for every property).
    pub property_ids: Option<Vec<String>>,
    /// Disable or enable.
    pub disabled: Option<bool>,
}

/// Change an account; disabling it also ends its sessions.
pub fn update(db: &dyn Db, id: i64, patch: &Patch, actor: &str, now: DateTime<Utc>) -> Result<StaffUser> {
    let scope = match &patch.property_ids {
        Some(ids) => Some(stored_scope(&Some(ids.clone()))?),
        None => None,
    };
    db::transaction(db, |tx| {
        let before = require(tx, id)?;
        let at = time::timestamp(now);
        if let Some(role) = patch.role {
            tx.execute("UPDATE staff_users SET role = ?, updated_at = ? WHERE id = ?", &[role.as_str().into(), at.as_str().into(), id.into()])?;
        }
        if let Some(d) = &patch.display_name {
            tx.execute("UPDATE staff_users SET display_name = ?, updated_at = ? WHERE id = ?", &[d.trim().into(), at.as_str().into(), id.into()])?;
        }
        if let Some(s) = scope {
            tx.execute("UPDATE staff_users SET property_ids = ?, updated_at = ? WHERE id = ?", &[s, at.as_str().into(), id.into()])?;
        }
        if let Some(d) = patch.disabled {
            tx.execute("UPDATE staff_users SET disabled = ?, updated_at = ? WHERE id = ?", &[d.into(), at.as_str().into(), id.into()])?;
            if d {
                tx.execute("DELETE FROM staff_sessions WHERE user_id = ?", &[id.into()])?;
            }
        }
        let after = require(tx, id)?;
        let detail = serde_json::json!({
            "before": { "role": before.role, "display_name": before.display_name, "property_ids": before.property_ids, "disabled": before.disabled },
            "after": { "role": after.role, "display_name": after.display_name, "property_ids": after.property_ids, "disabled": after.disabled },
        });
        audit::record(tx, actor, "staff_user.update", &target(id), &detail, now)?;
        Ok(after)
    })
}

/// A new API token for the account; the old one stops working at once.
pub fn rotate_token(db: &dyn Db, id: i64, actor: &str, now: DateTime<Utc>) -> Result<String> {
    let token = random_secret(TOKEN_PREFIX)?;
    db::transaction(db, |tx| {
        require(tx, id)?;
        tx.execute(
            "UPDATE staff_users SET token_hash = ?, updated_at = ? WHERE id = ?",
            &[secret_hash(&token).into(), time::timestamp(now).into(), id.into()],
        )?;
        audit::record(tx, actor, "staff_user.token_rotate", &target(id), &serde_json::json!({}), now)?;
        Ok::<(), AccountError>(())
    })?;
    Ok(token)
}

/// Set the console password; other sessions of the account end.
pub fn set_password(db: &dyn Db, id: i64, password: &str, actor: &str, now: DateTime<Utc>) -> Result<()> {
    check_password(password)?;
    // Hash outside the transaction: it takes tens of milliseconds.
    let phc = hash_password(password)?;
    db::transaction(db, |tx| {
        require(tx, id)?;
        tx.execute(
            "UPDATE staff_users SET password_hash = ?, updated_at = ? WHERE id = ?",
            &[phc.into(), time::timestamp(now).into(), id.into()],
        )?;
        tx.execute("DELETE FROM staff_sessions WHERE user_id = ?", &[id.into()])?;
        audit::record(tx, actor, "staff_user.password_set", &target(id), &serde_json::json!({}), now)?;
        Ok(())
    })
}

/// The enabled account whose API token this is. One indexed lookup by the
/// token's hash; the hashes are then compared in constant time as well, so
/// the answer never depends on how much of a wrong token was right.
pub fn by_token(db: &dyn Db, token: &str) -> Result<Option<StaffUser>> {
    if !token.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let hash = secret_hash(token);
    let rows = db.execute(&format!("SELECT {COLUMNS}, token_hash FROM staff_users WHERE token_hash = ? AND disabled = 0"), &[hash.as_str().into()])?;
    let Some(r) = rows.first() else { return Ok(None) };
    let stored = r.str("token_hash")?;
    if !bool::from(stored.as_bytes().ct_eq(hash.as_bytes())) {
        return Ok(None);
    }
    from_row(r).map(Some)
}

/// Check a username and password. `None` for a wrong password, an unknown
/// user, a disabled account or one without a password: the caller answers
/// all of them the same way, and an unknown user costs the same hash.
pub fn check_credentials(db: &dyn Db, username: &str, password: &str) -> Result<Option<StaffUser>> {
    let rows = db.execute(&format!("SELECT {COLUMNS}, password_hash FROM staff_users WHERE username = ?"), &[username.into()])?;
    let Some(r) = rows.first() else {
        verify_dummy(password);
        return Ok(None);
    };
    let phc = r.opt_str("password_hash")?;
    let ok = match phc {
        Some(phc) => verify_password(phc, password),
        None => {
            verify_dummy(password);
            false
        }
    };
    let user = from_row(r)?;
    Ok((ok && !user.disabled).then_some(user))
}

/// Start a console session for `user`; returns the session id for the cookie.
pub fn start_session(db: &dyn Db, user: &StaffUser, now: DateTime<Utc>) -> Result<String> {
    let sid = random_secret(SESSION_PREFIX)?;
    let at = time::timestamp(now);
    db::transaction(db, |tx| {
        // Expired sessions of this person are swept here, so the table stays small.
        tx.execute("DELETE FROM staff_sessions WHERE user_id = ? AND expires_at <= ?", &[user.id.into(), at.as_str().into()])?;
        tx.execute(
            "INSERT INTO staff_sessions (id_hash, user_id, expires_at, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?)",
            &[secret_hash(&sid).into(), user.id.into(), time::timestamp(now + SESSION_ABSOLUTE).into(), at.as_str().into(), at.as_str().into()],
        )?;
        audit::record(tx, &user.actor(), "auth.sign_in", &target(user.id), &serde_json::json!({}), now)?;
        Ok::<(), AccountError>(())
    })?;
    Ok(sid)
}

/// The enabled account of a live session: not past its absolute expiry and
/// used within the idle limit.
pub fn session_user(db: &dyn Db, session_id: &str, now: DateTime<Utc>) -> Result<Option<StaffUser>> {
    if !session_id.starts_with(SESSION_PREFIX) {
        return Ok(None);
    }
    let hash = secret_hash(session_id);
    let rows = db.execute(
        "SELECT s.user_id, s.expires_at, s.last_seen_at, s.id_hash FROM staff_sessions s JOIN staff_users u ON u.id = s.user_id
         WHERE s.id_hash = ? AND u.disabled = 0",
        &[hash.as_str().into()],
    )?;
    let Some(r) = rows.first() else { return Ok(None) };
    if !bool::from(r.str("id_hash")?.as_bytes().ct_eq(hash.as_bytes())) {
        return Ok(None);
    }
    let parse = |c: &str| -> Result<DateTime<Utc>> {
        let s = r.str(c)?;
        time::parse_timestamp(s).ok_or_else(|| AccountError::Corrupt(format!("{c} `{s}`")))
    };
    let (expires, last_seen) = (parse("expires_at")?, parse("last_seen_at")?);
    if now >= expires || now >= last_seen + SESSION_IDLE {
        return Ok(None);
    }
    let user_id = r.i64("user_id")?;
    if now - last_seen >= LAST_SEEN_RESOLUTION {
        db.execute("UPDATE staff_sessions SET last_seen_at = ? WHERE id_hash = ?", &[time::timestamp(now).into(), hash.as_str().into()])?;
    }
    get(db, user_id)
}

/// End a session (signing out); unknown ids are fine.
pub fn end_session(db: &dyn Db, session_id: &str, actor: &str, now: DateTime<Utc>) -> Result<()> {
    db::transaction(db, |tx| {
        let gone = tx.execute("DELETE FROM staff_sessions WHERE id_hash = ? RETURNING user_id", &[secret_hash(session_id).into()])?;
        if let Some(r) = gone.first() {
            audit::record(tx, actor, "auth.sign_out", &target(r.i64("user_id")?), &serde_json::json!({}), now)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_power() {
        assert!(Role::Viewer < Role::Collector && Role::Collector < Role::Manager && Role::Manager < Role::Admin);
        assert_eq!(Role::parse("manager"), Some(Role::Manager));
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn passwords_hash_and_verify_and_the_dummy_has_real_parameters() {
        let phc = hash_password("correct horse battery").unwrap();
        assert!(verify_password(&phc, "correct horse battery"));
        assert!(!verify_password(&phc, "correct horse batter"));
        assert!(!verify_password("not a hash", "x"));
        let real = PasswordHash::new(&phc).unwrap();
        let dummy = PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(real.algorithm, dummy.algorithm);
        assert_eq!(real.params, dummy.params);
    }

    #[test]
    fn secrets_are_long_random_and_prefixed() {
        let a = random_secret(TOKEN_PREFIX).unwrap();
        let b = random_secret(TOKEN_PREFIX).unwrap();
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 43 && a != b);
        assert_eq!(secret_hash("x").len(), 64);
    }
}
