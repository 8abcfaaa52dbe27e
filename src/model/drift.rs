//! What a reconciliation finds and what becomes of it: drift categories, the
//! state of each item, and the states of a suspected duplicate group.

named_enum!(
    /// One kind of difference between the HRIS, the LMS and the LRS.
    DriftCategory {
        /// An in-scope, active employee has no learner.
        EmployeeWithoutLearner => "employee_without_learner",
        /// An active learner whose employee id the HRIS does not list.
        LearnerWithoutEmployee => "learner_without_employee",
        /// Terminated in the HRIS, still active in the LMS: critical.
        TerminatedButActive => "terminated_but_active",
        /// An HRIS-owned field holds another value in the LMS.
        FieldDrift => "field_drift",
        /// A completion in the LRS the HRIS has no training record of.
        CompletionNotWrittenBack => "completion_not_written_back",
        /// A learner missing from a group the triggers put them in.
        WrongGroups => "wrong_groups",
    }
);

impl DriftCategory {
    /// Critical findings are also sent to the ops channel.
    pub fn is_critical(self) -> bool {
        self == DriftCategory::TerminatedButActive
    }

    /// In the operator's words.
    pub fn describe(self) -> &'static str {
        match self {
            DriftCategory::EmployeeWithoutLearner => "employee without learner",
            DriftCategory::LearnerWithoutEmployee => "learner without employee",
            DriftCategory::TerminatedButActive => "terminated but still active",
            DriftCategory::FieldDrift => "field drift",
            DriftCategory::CompletionNotWrittenBack => "completion not written back",
            DriftCategory::WrongGroups => "learner in the wrong groups",
        }
    }

    /// Whether "fix" can push the owner's value: a learner without an employee
    /// has no HRIS record to push (flag or accept it instead).
    pub fn can_fix(self) -> bool {
        self != DriftCategory::LearnerWithoutEmployee
    }
}

named_enum!(
    /// What an operator did with a drift item.
    DriftState {
        Open => "open",
        /// The owner's value was journaled to be pushed.
        Fixing => "fixing",
        Flagged => "flagged",
        Accepted => "accepted",
    }
);

named_enum!(
    /// How a reconciliation run ended.
    RunOutcome {
        Running => "running",
        Complete => "complete",
        /// It could not finish (a side down, an empty list): nothing is reported as drift.
        Failed => "failed",
    }
);

named_enum!(
    /// Which system holds the suspected duplicates.
    DuplicateSide {
        /// Two HRIS employees.
        Hris => "hris",
        /// Two LMS learners.
        Lms => "lms",
    }
);

named_enum!(
    /// What an operator decided about a suspected duplicate group.
    GroupState {
        /// Waiting for an operator; the newcomers are held from sync.
        Open => "open",
        /// Remembered while the members stay the same; the held records sync.
        NotDuplicate => "not_duplicate",
        /// Handed to the HRIS admin with a note; still held.
        Flagged => "flagged",
        /// A learner-side duplicate: the right learner linked to the employee.
        Linked => "linked",
    }
);

impl GroupState {
    /// Holds the newcomers from sync.
    pub fn holds(self) -> bool {
        matches!(self, GroupState::Open | GroupState::Flagged)
    }
}
