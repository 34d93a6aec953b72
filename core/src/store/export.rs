//! Export: everything the device's person wrote in a neighbourhood, as JSON they can keep or take to
//! another service. The choice of what is "theirs" is the domain's (`domain::export`); this reads the
//! replica (pending changes included) and hands it over.

use super::Store;
use super::error::{Result, StoreError};
use crate::domain::export::{MemberExport, written_by};

impl Store {
    /// What this device's person wrote in `neighbourhood_id`.
    pub fn export(&self, neighbourhood_id: &str) -> Result<MemberExport> {
        let entities = self.replica(neighbourhood_id)?;
        if entities.is_empty() {
            return Err(StoreError::NotFound(format!(
                "this device holds no neighbourhood {neighbourhood_id}; export from a device that joined it"
            )));
        }
        Ok(written_by(&entities, neighbourhood_id, &self.identity().person_id, self.now_ms()))
    }

    /// [`Store::export`] as pretty-printed JSON.
    pub fn export_json(&self, neighbourhood_id: &str) -> Result<String> {
        let export = self.export(neighbourhood_id)?;
        serde_json::to_string_pretty(&export).map_err(StoreError::data("the export"))
    }
}
