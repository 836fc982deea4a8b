//! Reading the audit trail.

use crate::error::Error;
use crate::ids::UserId;
use crate::model::AuditEvent;
use crate::service::Core;

impl Core {
    /// Newest events first, optionally of one user and one type.
    pub async fn audit_events(
        &self,
        user: Option<&UserId>,
        kind: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, Error> {
        Ok(self.store.list_audit(user, kind, limit.clamp(1, 200)).await?)
    }
}
