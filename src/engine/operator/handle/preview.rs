//! The handle's contract preview: what an edited contract would do to the HRIS
//! population, counted from the list the engine keeps or a fresh pull.

use super::{ContractProblem, EngineHandle, HandleError, Impact, PulledBy};

/// What replacing the contract in force by another would do, and what it was
/// counted against.
#[derive(Debug, Clone, PartialEq)]
pub struct ContractPreview {
    pub impact: Impact,
    /// When the HRIS list it mapped was pulled, and by whom.
    pub pulled_at: jiff::Timestamp,
    pub pulled_by: PulledBy,
}

impl EngineHandle {
    /// What replacing the contract in force by `new_text` would do to the HRIS's
    /// population, keeping `examples` per count: mapped from the list the last
    /// reconciliation pulled while it is young enough, else from a fresh pull.
    /// Blocks until done: the console runs it off its loop, as it does reads.
    pub fn preview_contract(&self, new_text: &str, examples: usize) -> Result<ContractPreview, HandleError> {
        let Some(population) = &self.population else {
            return Err(HandleError::Preview(
                "no HRIS to preview against here: run the console with --config FILE (attached: \
                 --attach --config FILE)"
                    .into(),
            ));
        };
        let old_text = self.contract_text()?.ok_or_else(|| {
            HandleError::Preview("the contract in force is not known to this console".into())
        })?;
        let unreadable = |what: &str, problems: Vec<ContractProblem>| {
            HandleError::Preview(format!(
                "the {what} contract does not check ({} problem(s))",
                problems.len()
            ))
        };
        let old = crate::contract::parse(&old_text).map_err(|p| unreadable("in-force", p))?;
        let new = crate::contract::parse(new_text).map_err(|p| unreadable("new", p))?;
        let allowed = crate::engine::apply::safety::allowed(&self.store, population.safety)?;
        let (pulled, pulled_by) =
            block_on(population.for_contracts(&old, &new))?.map_err(HandleError::Preview)?;
        let today = jiff::Timestamp::now().to_zoned(new.time_zone.clone()).date();
        let impact = crate::engine::operator::preview::impact_of(
            &pulled.employees,
            (&old, &new),
            today,
            examples,
            allowed,
        );
        Ok(ContractPreview {
            impact,
            pulled_at: pulled.pulled_at,
            pulled_by,
        })
    }
}

/// Runs `future` to its end from synchronous code: a blocking thread of the
/// runtime (the console's reads), or a runtime thread given up to blocking
/// meanwhile (a test's inline read). Refused outside a multi-threaded runtime,
/// where nothing would drive the pull's I/O while this thread waits.
fn block_on<F: std::future::Future>(future: F) -> Result<F::Output, HandleError> {
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| HandleError::Preview("a preview needs the engine's runtime".into()))?;
    if runtime.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
        return Err(HandleError::Preview(
            "a preview needs a multi-threaded runtime".into(),
        ));
    }
    Ok(tokio::task::block_in_place(|| runtime.block_on(future)))
}
