//! Assignment at run time: a user task's `<flyt:assignee>` is resolved from the data when the
//! task starts (with the inner instance's variables in a multi-instance activity) and kept on
//! the task ([`TaskInfo::assignee`](crate::model::TaskInfo)). The API enforces it on top of the
//! app's policy; the engine uses it to pick the caller's own inner instance.

use super::Error;
use super::transition::Transition;
use crate::bpmn::elements::{AssigneeRule, NodeIdx, NodeKind};
use crate::model::{Actor, Assignee, Party};
use serde_json::Value;

impl Transition<'_> {
    /// Who user task `task`, starting in scope instance `scope` (as inner instance `inner` of
    /// its multi-instance body, if so), is assigned to; `None` when it names no assignee.
    pub(super) fn assignee_of(
        &mut self,
        task: NodeIdx,
        scope: Option<u32>,
        inner: Option<u32>,
    ) -> Result<Option<Assignee>, Error> {
        let def = self.def.clone();
        let node = def.node(task);
        let NodeKind::UserTask(user) = &node.kind else {
            return Ok(None);
        };
        let Some(rule) = &user.assignee else {
            return Ok(None);
        };
        let expression = match rule {
            AssigneeRule::Role(role) => {
                let organisation_number = match &self.instance.owner.party {
                    Party::Organisation {
                        organisation_number,
                    } => Some(organisation_number.clone()),
                    Party::Person { .. } => None,
                };
                return Ok(Some(Assignee::Role {
                    role: role.clone(),
                    organisation_number,
                }));
            }
            AssigneeRule::Person(c) | AssigneeRule::Organisation(c) => c,
        };
        let variables = self.inner_variables(scope, inner);
        let failed = |problem: String| Error::Assignment {
            element: node.id.to_string(),
            problem,
        };
        let number = match self.eval_with(&expression.expr, &variables) {
            Ok(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Ok(Value::Number(n)) => n.to_string(),
            Ok(other) => {
                return Err(failed(format!(
                    "`{}` gave {other}, not a number",
                    expression.text
                )));
            }
            Err(e) => return Err(failed(format!("`{}`: {e}", expression.text))),
        };
        Ok(Some(match rule {
            AssigneeRule::Person(_) => Assignee::Person {
                person_number: number,
            },
            _ => Assignee::Organisation {
                organisation_number: number,
            },
        }))
    }

    /// The multi-instance variables visible in scope instance `scope`: of inner instance
    /// `inner` when `scope` is a body, else of the nearest enclosing inner scope instance.
    pub(super) fn inner_variables(&self, scope: Option<u32>, inner: Option<u32>) -> Value {
        let process = &self.instance.process;
        let variables = |body: &crate::model::ScopeInstance, index: u32| {
            let element_variable = self
                .def
                .node_by_id(body.element.as_str())
                .and_then(|n| self.def.node(n).multi.as_deref())
                .and_then(|m| m.element_variable.clone());
            body.multi.as_ref().map_or(Value::Null, |m| {
                m.variables(Some(index), element_variable.as_deref())
            })
        };
        if let (Some(index), Some(body)) = (inner, scope)
            && let Some(body) = process.scopes.iter().find(|x| x.id == body)
        {
            return variables(body, index);
        }
        let mut at = scope;
        for _ in 0..=process.scopes.len() {
            let Some(x) = at.and_then(|id| process.scopes.iter().find(|x| x.id == id)) else {
                break;
            };
            if let Some(body) = process.body_of_inner(x)
                && let Some(i) = body.multi.as_ref().and_then(|m| m.inner_by_id(x.id))
            {
                return variables(body, i.index);
            }
            at = x.parent;
        }
        Value::Null
    }
}

/// Whether `actor` is, by identity alone, the assignee (a person by number, an organisation's
/// own token). Roles are the API's to check: the engine does not see them.
pub(crate) fn assigned_to(assignee: &Assignee, actor: &Actor) -> bool {
    match (assignee, actor) {
        (Assignee::Person { person_number }, Actor::User { person_number: p }) => {
            person_number == p
        }
        (
            Assignee::Organisation {
                organisation_number,
            },
            Actor::Organisation {
                organisation_number: o,
                ..
            },
        ) => organisation_number == o,
        _ => false,
    }
}
