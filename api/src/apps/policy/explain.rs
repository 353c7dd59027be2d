//! A policy as text a designer can check: each rule's effect, who, what and where.

use super::{CompiledRule, Effect, Place, Policy, Predicate, Subject};
use std::fmt::Write;

impl Subject {
    /// The subject in words.
    pub fn describe(&self) -> String {
        match self {
            Subject::Owner => "the instance owner (the person, or the organisation's token)".into(),
            Subject::OwnerPerson => "the owner, a person acting for themselves (PRIV)".into(),
            Subject::Role(code) => format!("a person with role {code} for the owner organisation"),
            Subject::OrgCode(code) => format!("service owner `{code}` (organisation token)"),
            Subject::OrgNumber(n) => format!("organisation {n} (organisation token)"),
            Subject::Person(n) => format!("person {n}"),
            Subject::Scope(s) => format!("any token with scope `{s}`"),
            Subject::AnyPerson => "any person (user token)".into(),
        }
    }
}

/// What a group of the target is about, so it is shown on its own line.
#[derive(PartialEq, Eq)]
enum Aspect {
    Who,
    What,
    Where,
    Mixed,
}

fn aspect(p: &Predicate) -> Aspect {
    match p {
        Predicate::Subject(_) => Aspect::Who,
        Predicate::Action(_) | Predicate::AnyAction => Aspect::What,
        Predicate::Place(_) | Predicate::Message(_) | Predicate::Signal(_) => Aspect::Where,
        Predicate::ThisApp | Predicate::Never(_) => Aspect::Mixed,
    }
}

fn describe(p: &Predicate) -> String {
    match p {
        Predicate::Subject(s) => s.describe(),
        Predicate::Action(a) => a.clone(),
        Predicate::AnyAction => "every action".into(),
        Predicate::Place(Place::Task(t)) => format!("at task {t}"),
        Predicate::Place(Place::EndEvent(e)) => format!("after the process ended at {e}"),
        Predicate::ThisApp => "this app".into(),
        Predicate::Message(m) => format!("message {m}"),
        Predicate::Signal(m) => format!("signal {m}"),
        Predicate::Never(why) => format!("never (not supported: {why})"),
    }
}

fn explain_rule(out: &mut String, rule: &CompiledRule) {
    let effect = match rule.effect {
        Effect::Permit => "PERMIT",
        Effect::Deny => "DENY",
    };
    let _ = writeln!(out, "{effect}  ({})", rule.origin);
    let mut where_shown = false;
    for group in &rule.target {
        // `this app` (an Altinn resource org/app match) goes without saying.
        let shown = |all: &&Vec<Predicate>| all.iter().any(|p| *p != Predicate::ThisApp);
        let aspects: Vec<Aspect> = group
            .iter()
            .flatten()
            .filter(|p| **p != Predicate::ThisApp)
            .map(aspect)
            .collect();
        let label = match aspects.first() {
            None => continue,
            Some(first) if aspects.iter().all(|a| a == first) => match (first, rule.effect) {
                (Aspect::Who, _) => "who:    ",
                (Aspect::What, Effect::Permit) => "may:    ",
                (Aspect::What, Effect::Deny) => "may not:",
                (Aspect::Where, _) => "where:  ",
                _ => "when:   ",
            },
            _ => "when:   ",
        };
        where_shown |= label == "where:  ";
        let alternatives: Vec<String> = group
            .iter()
            .filter(shown)
            .map(|all| {
                let parts: Vec<String> = all
                    .iter()
                    .filter(|p| **p != Predicate::ThisApp)
                    .map(describe)
                    .collect();
                parts.join(" and ")
            })
            .collect();
        let joiner = if label.starts_with("may") {
            ", "
        } else {
            "; or "
        };
        let _ = writeln!(out, "  {label} {}", alternatives.join(joiner));
    }
    if rule.target.is_empty() {
        let _ = writeln!(out, "  every request (the rule has no target)");
    } else if !where_shown {
        let _ = writeln!(
            out,
            "  where:   anywhere (every task, and before and after the process)"
        );
    }
    if let Some(d) = &rule.description {
        let _ = writeln!(out, "  note:    {d}");
    }
}

impl Policy {
    /// The policy in words: how rules combine, then every rule.
    pub fn explain(&self) -> String {
        let mut out = String::from(
            "Rules combine deny-overrides: a request is allowed when a PERMIT rule matches and no DENY rule does; nothing matching means refused.\n",
        );
        if self.rules.is_empty() {
            out.push_str("No rules: every request is refused.\n");
        }
        for rule in &self.rules {
            out.push('\n');
            explain_rule(&mut out, rule);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::Rule;
    use super::*;

    #[test]
    fn an_app_toml_policy_in_words() {
        let policy = Policy::new(vec![
            Rule {
                subjects: vec!["owner".into(), "role:DAGL".into()],
                actions: vec!["read".into(), "sign".into()],
                tasks: vec!["Sign".into()],
                effect: Effect::Permit,
                messages: vec![],
                signals: vec![],
            },
            Rule {
                subjects: vec!["org:ttd".into()],
                actions: vec!["*".into()],
                tasks: vec![],
                effect: Effect::Deny,
                messages: vec![],
                signals: vec![],
            },
        ])
        .unwrap();
        let text = policy.explain();
        assert!(
            text.contains(
                "PERMIT  (app.toml rules[0])\n  who:     the instance owner (the person, or the organisation's token); or a person with role DAGL for the owner organisation\n  may:     read, sign\n  where:   at task Sign\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "DENY  (app.toml rules[1])\n  who:     service owner `ttd` (organisation token)\n  may not: every action\n  where:   anywhere (every task, and before and after the process)\n"
            ),
            "{text}"
        );
        assert!(
            Policy::default()
                .explain()
                .contains("No rules: every request is refused.")
        );
    }
}
