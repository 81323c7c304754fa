//! Which properties a staff member may see. Every query that lists or reads
//! tenants, properties or anything hanging off a tenant takes a [`Scope`],
//! so a record outside it is simply not found (404, as if it did not exist).

use crate::base::db::{self, Db, Value};
use crate::base::error::Result;

/// The properties a caller may see.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Scope {
    /// Every property (admins, unscoped accounts, the break-glass token).
    #[default]
    All,
    /// Only these property ids (never empty: an empty list means [`Scope::All`]).
    Properties(Vec<String>),
}

impl Scope {
    /// A scope from an account's stored list: none or empty is every property.
    pub fn from_list(ids: Option<Vec<String>>) -> Self {
        match ids {
            Some(ids) if !ids.is_empty() => Scope::Properties(ids),
            _ => Scope::All,
        }
    }

    /// The listed property ids (empty for every property), as the API shows them.
    pub fn property_ids(&self) -> &[String] {
        match self {
            Scope::All => &[],
            Scope::Properties(ids) => ids,
        }
    }

    /// May the caller see this property?
    pub fn allows_property(&self, property_id: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Properties(ids) => ids.iter().any(|p| p == property_id),
        }
    }

    /// ` AND <column> IN (?N, ...)` numbered from `first`, for statements
    /// with numbered parameters (an unnumbered `?` takes the number after
    /// the highest seen *so far in the text*, which can collide with a
    /// numbered one further on).
    pub fn and_property_in_numbered(&self, column: &str, first: usize) -> (String, Vec<Value>) {
        match self {
            Scope::All => (String::new(), Vec::new()),
            Scope::Properties(ids) => {
                let marks: Vec<String> = (0..ids.len()).map(|i| format!("?{}", first + i)).collect();
                (format!(" AND {column} IN ({})", marks.join(", ")), ids.iter().map(Value::from).collect())
            }
        }
    }

    /// ` AND <column> IN (?, ...)` with its parameters, or nothing for every
    /// property.
    pub fn and_property_in(&self, column: &str) -> (String, Vec<Value>) {
        match self {
            Scope::All => (String::new(), Vec::new()),
            Scope::Properties(ids) => {
                (format!(" AND {column} IN ({})", db::placeholders(ids.len())), ids.iter().map(Value::from).collect())
            }
        }
    }

    /// ` AND <column> IN (tenants of the scope's properties)`, or nothing.
    pub fn and_tenant_in(&self, column: &str) -> (String, Vec<Value>) {
        match self {
            Scope::All => (String::new(), Vec::new()),
            Scope::Properties(ids) => (
                format!(" AND {column} IN (SELECT tenant_id FROM tenants WHERE property_id IN ({}))", db::placeholders(ids.len())),
                ids.iter().map(Value::from).collect(),
            ),
        }
    }

    /// Does the tenant exist and belong to a property the caller may see?
    /// (Unknown and out of scope are the same answer on purpose.)
    pub fn allows_tenant(&self, db: &dyn Db, tenant_id: &str) -> Result<bool> {
        if let Scope::All = self {
            return Ok(true);
        }
        let rows = db.execute("SELECT property_id FROM tenants WHERE tenant_id = ?", &[tenant_id.into()])?;
        match rows.first() {
            Some(r) => Ok(self.allows_property(r.str("property_id")?)),
            None => Ok(false),
        }
    }

    /// Is the inbox message matched to at least one tenant in scope?
    /// (Unmatched messages belong to no property: only unscoped callers see them.)
    pub fn allows_inbox_message(&self, db: &dyn Db, id: i64) -> Result<bool> {
        let (cond, mut params) = self.and_tenant_in("j.value");
        if cond.is_empty() {
            return Ok(true);
        }
        params.insert(0, id.into());
        let sql = format!("SELECT 1 AS x FROM inbound_messages m, json_each(m.tenant_ids) j WHERE m.id = ?{cond} LIMIT 1");
        Ok(!db.execute(&sql, &params)?.is_empty())
    }

    /// Is the outbox row for a tenant in scope?
    pub fn allows_outbox_row(&self, db: &dyn Db, id: i64) -> Result<bool> {
        let (cond, mut params) = self.and_tenant_in("tenant_id");
        if cond.is_empty() {
            return Ok(true);
        }
        params.insert(0, id.into());
        Ok(!db.execute(&format!("SELECT 1 AS x FROM outbox WHERE id = ?{cond}"), &params)?.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_lists_mean_every_property() {
        assert_eq!(Scope::from_list(None), Scope::All);
        assert_eq!(Scope::from_list(Some(vec![])), Scope::All);
        let s = Scope::from_list(Some(vec!["P1".into()]));
        assert!(s.allows_property("P1") && !s.allows_property("P2"));
        assert_eq!(s.and_property_in("t.property_id").0, " AND t.property_id IN (?)");
        assert_eq!(Scope::All.and_tenant_in("x").0, "");
    }
}
