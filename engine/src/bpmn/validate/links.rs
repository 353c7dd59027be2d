//! Link events: every link throw event lands on exactly one link catch event of its name in its
//! own scope (process or sub-process); a throw has no outgoing flow of its own.

use super::super::diagnostic::{Code, Diagnostic};
use super::super::raw::{RawKind, RawProcess};
use super::Index;

/// The link catch event each link throw event lands on, when there is exactly one.
pub(crate) fn targets(process: &RawProcess) -> Vec<Option<usize>> {
    process
        .nodes
        .iter()
        .map(|n| match &n.kind {
            RawKind::LinkThrow { name } => {
                let mut found = catches(process, n.scope, name);
                match (found.next(), found.next()) {
                    (Some(c), None) => Some(c),
                    _ => None,
                }
            }
            _ => None,
        })
        .collect()
}

fn catches<'a>(
    process: &'a RawProcess,
    scope: Option<usize>,
    name: &'a str,
) -> impl Iterator<Item = usize> + 'a {
    process.nodes.iter().enumerate().filter_map(move |(i, c)| {
        matches!(&c.kind, RawKind::LinkCatch { name: n } if n == name && c.scope == scope)
            .then_some(i)
    })
}

pub(crate) fn check(process: &RawProcess, index: &Index, diags: &mut Vec<Diagnostic>) {
    for (i, node) in process.nodes.iter().enumerate() {
        let (name, throw) = match &node.kind {
            RawKind::LinkThrow { name } => (name, true),
            RawKind::LinkCatch { name } => (name, false),
            _ => continue,
        };
        let problem = if name.is_empty() {
            Some(
                "has no name; a link throw lands on the link catch event of the same name"
                    .to_string(),
            )
        } else if throw && !index.outgoing[i].is_empty() {
            Some("has an outgoing sequence flow; the token leaves by the link catch event of its name".to_string())
        } else {
            let count = catches(process, node.scope, name).count();
            match (throw, count) {
                (true, 0) => Some(format!(
                    "links to `{name}`, but no link catch event of that name is in the same scope"
                )),
                // Reported once, at each catch event of the name.
                (false, n) if n > 1 => Some(format!(
                    "is one of {n} link catch events named `{name}` in the same scope; a link throw must land on exactly one"
                )),
                _ => None,
            }
        };
        if let Some(problem) = problem {
            diags.push(
                Diagnostic::error(
                    Code::InvalidLink,
                    node.pos,
                    format!("link event `{}` {problem}", node.id),
                )
                .element(&node.id)
                .hint("pair each link throw event with one link catch event of the same name in the same process or sub-process"),
            );
        }
    }
}
