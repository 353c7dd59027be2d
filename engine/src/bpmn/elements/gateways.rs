//! Exclusive, inclusive and parallel gateways.

use super::FlowIdx;
use crate::ids::DataTypeId;

/// An exclusive (XOR) gateway: exactly one outgoing flow is taken — the one whose condition
/// holds, else the default, else a registered gateway hook decides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExclusiveGateway {
    pub default: Option<FlowIdx>,
    /// `altinn:gatewayExtension/altinn:connectedDataTypeId`: the data type `dataModel` lookups
    /// in this gateway's conditions read by default.
    pub connected_data_type: Option<DataTypeId>,
}

/// A parallel (AND) gateway: forks a token onto every outgoing flow, and joins by waiting for a
/// token on every incoming flow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParallelGateway {}

/// An inclusive (OR) gateway. Diverging, it takes every outgoing flow whose condition holds (a
/// flow without condition always holds), else the default. Converging (several incoming flows),
/// it waits until no token of the instance outside it can still reach one of its incoming flows
/// (see [`crate::bpmn::reach`]), then takes the tokens that arrived, one per flow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InclusiveGateway {
    pub default: Option<FlowIdx>,
    /// As for the exclusive gateway: the data type `dataModel` lookups read by default.
    pub connected_data_type: Option<DataTypeId>,
}
