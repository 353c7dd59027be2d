//! Assignment: who may act on a user task, from the instance's data, enforced on top of the
//! app's policy (`<flyt:assignee person="expr"/>`, `organisation="expr"` or `role="CODE"`).

use super::Condition;

/// Who a user task is assigned to, as written.
#[derive(Debug, Clone, PartialEq)]
pub enum AssigneeRule {
    /// A person, by national identity number: the expression gives it.
    Person(Condition),
    /// An organisation, by organisation number: the expression gives it. Its own token, or a
    /// person holding a role for it, may act.
    Organisation(Condition),
    /// A person holding this role code (e.g. `DAGL`) for the organisation that owns the
    /// instance.
    Role(String),
}
