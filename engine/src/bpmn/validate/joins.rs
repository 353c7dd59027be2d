//! Parallel joins that can never receive all their tokens.
//!
//! A bounded token game over the process: exclusive gateways choose every branch in turn (their
//! conditions depend on data, so every choice is possible), tasks pass their token on, parallel
//! gateways fire when every incoming flow holds a token. A join that never fires in any run is
//! an error (typically: branches of an exclusive gateway merged by a parallel gateway); a join
//! where some run leaves a token waiting forever is a warning. The exploration stops after
//! `MAX_STATES` markings and then says nothing, so it never rejects a file it did not fully check.

use super::super::diagnostic::{Code, Diagnostic};
use super::super::raw::{RawKind, RawProcess};
use super::Index;
use std::collections::{BTreeSet, HashSet, VecDeque};

const MAX_STATES: usize = 20_000;
/// More tokens than this on one flow means the net is unbounded (a token generator); stop.
const MAX_TOKENS_PER_FLOW: usize = 4;

pub(crate) fn check(process: &RawProcess, index: &Index, diags: &mut Vec<Diagnostic>) {
    let joins: Vec<usize> = process
        .nodes
        .iter()
        .enumerate()
        .filter(|(i, n)| n.kind == RawKind::ParallelGateway && index.incoming[*i].len() > 1)
        .map(|(i, _)| i)
        .collect();
    if joins.is_empty() {
        return;
    }
    let game = Game { process, index };
    let mut fired: HashSet<usize> = HashSet::new();
    let mut stalled: BTreeSet<usize> = BTreeSet::new();
    let mut seen: HashSet<Vec<u32>> = HashSet::new();
    let mut queue: VecDeque<Vec<u32>> = VecDeque::new();
    for (i, node) in process.nodes.iter().enumerate() {
        if matches!(node.kind, RawKind::StartEvent(_)) {
            let mut marking: Vec<u32> = Vec::new();
            for &f in &index.outgoing[i] {
                if let Some(f) = game.advance(f) {
                    marking.push(f);
                }
            }
            marking.sort_unstable();
            if seen.insert(marking.clone()) {
                queue.push_back(marking);
            }
        }
    }
    while let Some(marking) = queue.pop_front() {
        if seen.len() > MAX_STATES {
            return; // too big to decide here; say nothing rather than guess
        }
        let successors = match game.successors(&marking, &mut fired) {
            Some(s) => s,
            None => return, // unbounded
        };
        if successors.is_empty() && !marking.is_empty() {
            for &f in &marking {
                if let Some(t) = index.target[f as usize] {
                    stalled.insert(t);
                }
            }
        }
        for next in successors {
            if seen.insert(next.clone()) {
                queue.push_back(next);
            }
        }
    }
    for j in joins {
        let node = &process.nodes[j];
        let incoming: Vec<&str> = index.incoming[j]
            .iter()
            .map(|&f| process.flows[f].id.as_str())
            .collect();
        if !fired.contains(&j) {
            diags.push(
                Diagnostic::error(
                    Code::ParallelJoinDeadlock,
                    node.pos,
                    format!(
                        "parallel gateway `{}` waits for a token on each of {} ({}), but no run of the process delivers them all",
                        node.id,
                        incoming.len(),
                        incoming.join(", ")
                    ),
                )
                .element(&node.id)
                .hint("paths that split at an exclusive gateway must merge at an exclusive gateway, not a parallel one"),
            );
        } else if stalled.contains(&j) {
            diags.push(
                Diagnostic::warning(
                    Code::ParallelJoinMayStall,
                    node.pos,
                    format!(
                        "parallel gateway `{}` can be left waiting forever: in some runs not all of {} receive a token",
                        node.id,
                        incoming.join(", ")
                    ),
                )
                .element(&node.id),
            );
        }
    }
}

struct Game<'a> {
    process: &'a RawProcess,
    index: &'a Index,
}

impl Game<'_> {
    /// Moves a token placed on flow `f` forward through tasks (which pass it on unchanged) to the
    /// flow that enters the next gateway or end event. `None` if it is consumed on the way.
    fn advance(&self, mut f: usize) -> Option<u32> {
        for _ in 0..=self.process.nodes.len() {
            let target = self.index.target[f]?;
            let node = &self.process.nodes[target];
            let passes_on = matches!(
                node.kind,
                RawKind::UserTask(_)
                    | RawKind::ServiceTask(_)
                    | RawKind::CallActivity(_)
                    | RawKind::TimerCatch(_)
                    | RawKind::MessageCatch { .. }
                    | RawKind::SignalCatch { .. }
                    | RawKind::SignalThrow { end: false, .. }
                    | RawKind::ThrowNone
            ) && self.index.outgoing[target].len() == 1
                && !self.has_boundary(target);
            if !passes_on {
                return u32::try_from(f).ok();
            }
            f = self.index.outgoing[target][0];
        }
        None // a cycle of tasks only: reported as a dead end elsewhere
    }

    fn has_boundary(&self, task: usize) -> bool {
        let id = &self.process.nodes[task].id;
        self.process
            .nodes
            .iter()
            .any(|n| n.kind.attached_to().is_some_and(|a| a.id == *id))
    }

    /// The flows a token can leave `node` by: its own, and those of boundary events on it.
    fn exits(&self, node: usize) -> Vec<usize> {
        let id = &self.process.nodes[node].id;
        let mut out = self.index.outgoing[node].clone();
        for (b, n) in self.process.nodes.iter().enumerate() {
            if n.kind.attached_to().is_some_and(|a| a.id == *id) {
                out.extend(self.index.outgoing[b].iter().copied());
            }
        }
        out
    }

    /// Successor markings. A token that is not waiting at a parallel gateway moves first (in a
    /// fixed order: independent moves commute, so one order finds every join firing and every
    /// stall); only when all tokens wait at parallel gateways do joins fire.
    fn successors(&self, marking: &[u32], fired: &mut HashSet<usize>) -> Option<Vec<Vec<u32>>> {
        let target_of = |f: u32| self.index.target[f as usize];
        let mut out = Vec::new();
        let free = marking.iter().position(|&f| {
            target_of(f).is_some_and(|t| self.process.nodes[t].kind != RawKind::ParallelGateway)
        });
        if let Some(pos) = free {
            let Some(target) = target_of(marking[pos]) else {
                return Some(out);
            };
            let mut rest = marking.to_vec();
            rest.remove(pos);
            match self.process.nodes[target].kind {
                RawKind::EndEvent | RawKind::SignalThrow { end: true, .. } => out.push(rest),
                RawKind::ServiceTask(ref t) if t.is_message_end() => out.push(rest),
                // Every token of the process ends.
                RawKind::TerminateEnd => out.push(Vec::new()),
                _ => {
                    // Exclusive gateway (or a task with several exits, its interrupting
                    // boundary events' flows among them): one successor per choice.
                    for o in self.exits(target) {
                        let mut next = rest.clone();
                        if let Some(f) = self.advance(o) {
                            next.push(f);
                        }
                        next.sort_unstable();
                        out.push(bounded(next)?);
                    }
                    // No outgoing flow: the token is stuck (a dead end, reported elsewhere).
                }
            }
            return Some(out);
        }
        // Every token waits at a parallel gateway: fire each that is enabled.
        let waiting: BTreeSet<usize> = marking.iter().filter_map(|&f| target_of(f)).collect();
        for gateway in waiting {
            let inputs = &self.index.incoming[gateway];
            let mut rest = marking.to_vec();
            let mut enabled = true;
            for &input in inputs {
                match rest.iter().position(|&f| f as usize == input) {
                    Some(p) => {
                        rest.remove(p);
                    }
                    None => {
                        enabled = false;
                        break;
                    }
                }
            }
            if !enabled {
                continue;
            }
            fired.insert(gateway);
            for &o in &self.index.outgoing[gateway] {
                if let Some(f) = self.advance(o) {
                    rest.push(f);
                }
            }
            rest.sort_unstable();
            out.push(bounded(rest)?);
        }
        Some(out)
    }
}

fn bounded(marking: Vec<u32>) -> Option<Vec<u32>> {
    let too_many = marking
        .windows(MAX_TOKENS_PER_FLOW + 1)
        .any(|w| w.iter().all(|&f| f == w[0]));
    (!too_many).then_some(marking)
}
