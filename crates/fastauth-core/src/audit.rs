//! Reading the audit trail.

use crate::error::Error;
use crate::ids::UserId;
use crate::model::{AuditEvent, AuditFilter};
use crate::service::Core;

impl Core {
    /// Newest events first, optionally of one user and one type.
    pub async fn audit_events(
        &self,
        user: Option<&UserId>,
        kind: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, Error> {
        let filter =
            AuditFilter { user: user.cloned(), kind: kind.map(str::to_owned), limit, ..AuditFilter::default() };
        self.list_audit(&filter).await
    }

    /// Events matching `filter`, newest first, at most 200.
    pub async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, Error> {
        let filter = AuditFilter { limit: filter.limit.clamp(1, 200), ..filter.clone() };
        Ok(self.store.list_audit(&filter).await?)
    }
}
