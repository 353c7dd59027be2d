//! Diagnostics: what is wrong with a process definition, and exactly where.

use serde::Serialize;
use std::fmt;

/// How bad a finding is. Errors stop a definition from being deployed; warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// A stable, machine-readable diagnostic code. The string form (`code.as_str()`) is part of
/// flyt's public contract: tools and tests match on it, so a variant is never renamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "&'static str")]
pub enum Code {
    // Reading the file.
    /// The XML is not well formed (also: truncated files, binary garbage).
    XmlSyntax,
    /// The bytes are not valid in the declared encoding, or the encoding is unknown.
    Encoding,
    /// A `<!DOCTYPE>` (and with it any entity definition) was found: refused.
    Doctype,
    /// A reference to an entity other than the five predefined ones.
    UndefinedEntity,
    /// A size, depth, element-count or attribute limit was exceeded.
    LimitExceeded,
    /// The document is not a BPMN 2.0 `definitions` document.
    NotBpmn,
    /// The definitions contain no process (or none with the id the app names).
    NoProcess,
    /// Several executable processes and nothing says which one an instance starts in.
    AmbiguousProcess,
    /// A message flow between pools: drawn, not executed (a warning).
    IgnoredMessageFlow,
    // Structure.
    /// A BPMN element that flyt cannot execute (yet).
    UnsupportedElement,
    /// A script flyt will not run: a `<scriptTask>`, or a condition written in a scripting or
    /// expression language other than Altinn's (JavaScript, JUEL `${...}`, XPath, FEEL, ...).
    UnsupportedScript,
    /// A flow element without an `id`.
    MissingId,
    /// Two elements share an id.
    DuplicateId,
    /// A `targetRef` names no element (an error), or a flow's `sourceRef` names no
    /// element and no gateway lists the flow as `<outgoing>` (a warning: no token can take it).
    UnknownReference,
    /// `incoming`/`outgoing` children disagree with the sequence flows. A warning: flyt reads
    /// them as Altinn's engine does and says which reading it used (`bpmn::validate::refs`).
    FlowMismatch,
    /// The process has no start event.
    NoStartEvent,
    /// A start event has incoming flows, or an end event has outgoing flows.
    MisplacedFlow,
    /// An element no start event reaches.
    Unreachable,
    /// An element from which no end event can be reached.
    DeadEnd,
    /// A task or event with more than one outgoing flow.
    MultipleOutgoing,
    /// A condition on a flow that does not leave an exclusive gateway.
    ConditionOutsideGateway,
    /// An exclusive gateway whose `default` is not one of its outgoing flows.
    InvalidDefault,
    /// The default flow of a gateway also has a condition (it is ignored).
    DefaultWithCondition,
    /// An exclusive gateway with several outgoing flows and neither conditions nor a default.
    UndecidableGateway,
    /// A flow leaving an exclusive gateway with no condition that is not the default: it
    /// always matches.
    UnconditionedFlow,
    /// A condition that does not parse as an Altinn expression.
    InvalidCondition,
    /// A `userTask` whose task type is not a user task type.
    UnknownTaskType,
    /// A `serviceTask` carrying a user task type.
    TaskKindMismatch,
    /// A parallel join that can never receive all of its tokens.
    ParallelJoinDeadlock,
    /// A parallel join where some runs leave a token waiting forever.
    ParallelJoinMayStall,
    /// A service task whose type has no registered handler.
    UnregisteredServiceTask,
    /// A service task that names no type at all.
    MissingServiceTaskType,
    /// A malformed Altinn or flyt extension element.
    InvalidExtension,
    /// A service task's configuration was refused by its handler at deploy time.
    InvalidServiceTaskConfig,
    /// A timer whose duration, date or cycle does not parse, or that has none or several.
    InvalidTimer,
    /// A boundary event attached to nothing, or to an element that cannot carry one.
    InvalidBoundary,
    /// A non-interrupting timer cycle without a repetition count: it fires for as long as the
    /// task is active.
    UnboundedTimer,
    /// A sequence flow between elements of different scopes (into or out of a sub-process's
    /// inside).
    CrossScopeFlow,
    /// A sub-process without exactly one none start event.
    InvalidSubProcess,
    /// An error end event no enclosing sub-process's error boundary event catches.
    UncaughtError,
    /// A link throw event without exactly one link catch event of its name in its scope, or a
    /// link catch event with two of the same name.
    InvalidLink,
    /// A `<bpmn:message>` a catching element uses has no `name`.
    MessageWithoutName,
    /// A message catch without `messageRef`, or whose `messageRef` names no `<bpmn:message>`.
    UnknownMessage,
    /// A message catch with no correlation key (neither its own `<flyt:subscription>` nor its
    /// message's has a `correlationKey`).
    MissingCorrelationKey,
    /// A `correlationKey` that does not parse as an Altinn expression.
    InvalidCorrelationKey,
    /// A `dataType` the app does not declare (checked where the app is known: at deploy).
    UnknownDataType,
    /// An event-based gateway followed by something other than message or timer catch events
    /// and receive tasks (each reached only from it), or with fewer than two of them.
    InvalidEventGateway,
    /// A message throw (send task, message throw or end event) whose `flyt:sendMessage` is
    /// missing or wrong: no target, a target not allowed, no message name, a bad correlation key.
    InvalidMessageThrow,
    /// A multi-instance activity whose collection or completion condition is missing or does
    /// not parse, or that uses a loop form flyt does not read.
    InvalidMultiInstance,
    /// A `<flyt:assignee>` that is wrong (none or several of person, organisation and role, an
    /// expression that does not parse) or written on something other than a user task.
    InvalidAssignment,
    /// A signal event without `signalRef`, or whose `signalRef` names no `<bpmn:signal>`.
    UnknownSignal,
    /// A `<bpmn:signal>` a signal event uses has no `name`.
    SignalWithoutName,
    /// A call activity without `calledElement`, or whose `<flyt:calledElement>`,
    /// `<flyt:input>` or `<flyt:output>` is wrong.
    InvalidCallActivity,
    /// A call activity naming a process that is not in the file (same app) or that no hosted
    /// app has (another app): an error at deploy, a warning in `flyt validate`.
    UnknownCalledProcess,
}

impl Code {
    /// Every code, for documentation and exhaustive tests.
    pub const ALL: &'static [Code] = &[
        Code::XmlSyntax,
        Code::Encoding,
        Code::Doctype,
        Code::UndefinedEntity,
        Code::LimitExceeded,
        Code::NotBpmn,
        Code::NoProcess,
        Code::AmbiguousProcess,
        Code::IgnoredMessageFlow,
        Code::UnsupportedElement,
        Code::UnsupportedScript,
        Code::MissingId,
        Code::DuplicateId,
        Code::UnknownReference,
        Code::FlowMismatch,
        Code::NoStartEvent,
        Code::MisplacedFlow,
        Code::Unreachable,
        Code::DeadEnd,
        Code::MultipleOutgoing,
        Code::ConditionOutsideGateway,
        Code::InvalidDefault,
        Code::DefaultWithCondition,
        Code::UndecidableGateway,
        Code::UnconditionedFlow,
        Code::InvalidCondition,
        Code::UnknownTaskType,
        Code::TaskKindMismatch,
        Code::ParallelJoinDeadlock,
        Code::ParallelJoinMayStall,
        Code::UnregisteredServiceTask,
        Code::MissingServiceTaskType,
        Code::InvalidExtension,
        Code::InvalidServiceTaskConfig,
        Code::InvalidTimer,
        Code::InvalidBoundary,
        Code::UnboundedTimer,
        Code::CrossScopeFlow,
        Code::InvalidSubProcess,
        Code::UncaughtError,
        Code::InvalidLink,
        Code::MessageWithoutName,
        Code::UnknownMessage,
        Code::MissingCorrelationKey,
        Code::InvalidCorrelationKey,
        Code::UnknownDataType,
        Code::InvalidEventGateway,
        Code::InvalidMessageThrow,
        Code::InvalidMultiInstance,
        Code::InvalidAssignment,
        Code::UnknownSignal,
        Code::SignalWithoutName,
        Code::InvalidCallActivity,
        Code::UnknownCalledProcess,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Code::XmlSyntax => "xml-syntax",
            Code::Encoding => "encoding",
            Code::Doctype => "doctype-forbidden",
            Code::UndefinedEntity => "undefined-entity",
            Code::LimitExceeded => "limit-exceeded",
            Code::NotBpmn => "not-bpmn",
            Code::NoProcess => "no-process",
            Code::AmbiguousProcess => "ambiguous-process",
            Code::IgnoredMessageFlow => "ignored-message-flow",
            Code::UnsupportedElement => "unsupported-element",
            Code::UnsupportedScript => "unsupported-script",
            Code::MissingId => "missing-id",
            Code::DuplicateId => "duplicate-id",
            Code::UnknownReference => "unknown-reference",
            Code::FlowMismatch => "flow-mismatch",
            Code::NoStartEvent => "no-start-event",
            Code::MisplacedFlow => "misplaced-flow",
            Code::Unreachable => "unreachable",
            Code::DeadEnd => "dead-end",
            Code::MultipleOutgoing => "multiple-outgoing",
            Code::ConditionOutsideGateway => "condition-outside-gateway",
            Code::InvalidDefault => "invalid-default",
            Code::DefaultWithCondition => "default-with-condition",
            Code::UndecidableGateway => "undecidable-gateway",
            Code::UnconditionedFlow => "unconditioned-flow",
            Code::InvalidCondition => "invalid-condition",
            Code::UnknownTaskType => "unknown-task-type",
            Code::TaskKindMismatch => "task-kind-mismatch",
            Code::ParallelJoinDeadlock => "parallel-join-deadlock",
            Code::ParallelJoinMayStall => "parallel-join-may-stall",
            Code::UnregisteredServiceTask => "unregistered-service-task",
            Code::MissingServiceTaskType => "missing-service-task-type",
            Code::InvalidExtension => "invalid-extension",
            Code::InvalidServiceTaskConfig => "invalid-service-task-config",
            Code::InvalidTimer => "invalid-timer",
            Code::InvalidBoundary => "invalid-boundary",
            Code::UnboundedTimer => "unbounded-timer",
            Code::CrossScopeFlow => "cross-scope-flow",
            Code::InvalidSubProcess => "invalid-sub-process",
            Code::UncaughtError => "uncaught-error",
            Code::InvalidLink => "invalid-link",
            Code::MessageWithoutName => "message-without-name",
            Code::UnknownMessage => "unknown-message",
            Code::MissingCorrelationKey => "missing-correlation-key",
            Code::InvalidCorrelationKey => "invalid-correlation-key",
            Code::UnknownDataType => "unknown-data-type",
            Code::InvalidEventGateway => "invalid-event-gateway",
            Code::InvalidMessageThrow => "invalid-message-throw",
            Code::InvalidMultiInstance => "invalid-multi-instance",
            Code::InvalidAssignment => "invalid-assignment",
            Code::UnknownSignal => "unknown-signal",
            Code::SignalWithoutName => "signal-without-name",
            Code::InvalidCallActivity => "invalid-call-activity",
            Code::UnknownCalledProcess => "unknown-called-process",
        }
    }
}

impl From<Code> for &'static str {
    fn from(code: Code) -> Self {
        code.as_str()
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A position in the source file: 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl Pos {
    pub const fn new(line: u32, column: u32) -> Self {
        Pos { line, column }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One finding about a process definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    /// The id of the element the finding is about, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub element_id: Option<String>,
    pub line: u32,
    pub column: u32,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(code: Code, pos: Pos, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Error, pos, message)
    }

    pub fn warning(code: Code, pos: Pos, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Warning, pos, message)
    }

    fn new(code: Code, severity: Severity, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity,
            element_id: None,
            line: pos.line,
            column: pos.column,
            message: message.into(),
            hint: None,
        }
    }

    pub fn element(mut self, id: impl Into<String>) -> Self {
        self.element_id = Some(id.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn pos(&self) -> Pos {
        Pos::new(self.line, self.column)
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Compiler-style rendering: `path:line:col: error[code]: message`, then the hint.
    pub fn render(&self, path: &str) -> String {
        let mut out = format!(
            "{path}:{}:{}: {}[{}]: {}",
            self.line, self.column, self.severity, self.code, self.message
        );
        if let Some(hint) = &self.hint {
            out.push_str("\n  = hint: ");
            out.push_str(hint);
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}[{}]: {}",
            self.line, self.column, self.severity, self.code, self.message
        )
    }
}

/// Sorts diagnostics by position, errors before warnings at the same place.
pub(crate) fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        (a.line, a.column, a.severity, a.code.as_str()).cmp(&(
            b.line,
            b.column,
            b.severity,
            b.code.as_str(),
        ))
    });
}
