//! The data of one instance within one transition: loaded lazily, written back on commit.

use crate::ids::{DataTypeId, InstanceId};
use crate::store::{Store, StoreError};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Data read and written during a transition. Writes are committed with the transition.
#[derive(Debug)]
pub struct DataCache {
    instance: InstanceId,
    store: Option<Store>,
    loaded: BTreeMap<DataTypeId, Option<Value>>,
    dirty: BTreeSet<DataTypeId>,
    all_loaded: bool,
}

impl DataCache {
    /// For an existing instance: reads go to the store on first use.
    pub(crate) fn new(instance: InstanceId, store: Store) -> Self {
        DataCache {
            instance,
            store: Some(store),
            loaded: BTreeMap::new(),
            dirty: BTreeSet::new(),
            all_loaded: false,
        }
    }

    /// For an existing instance whose every data type is known already (this node's copy of
    /// its last commit at the same version, [`super::recent`]): nothing is read.
    pub(crate) fn seeded(
        instance: InstanceId,
        store: Store,
        data: BTreeMap<DataTypeId, Value>,
    ) -> Self {
        DataCache {
            instance,
            store: Some(store),
            loaded: data.into_iter().map(|(k, v)| (k, Some(v))).collect(),
            dirty: BTreeSet::new(),
            all_loaded: true,
        }
    }

    /// Every data type's value, written ones included, when all are known (all were loaded,
    /// or the instance is new); `None` otherwise.
    pub(crate) fn complete(&self) -> Option<BTreeMap<DataTypeId, Value>> {
        self.all_loaded.then(|| self.snapshot())
    }

    /// For an instance that is being created: there is nothing to read.
    pub(crate) fn fresh(instance: InstanceId) -> Self {
        DataCache {
            instance,
            store: None,
            loaded: BTreeMap::new(),
            dirty: BTreeSet::new(),
            all_loaded: true,
        }
    }

    /// One data type's value. On a shared store the first read loads every data type of the
    /// instance in one range read: a round trip to the database costs more than the few values
    /// an instance holds, and a gateway or a job snapshot after the task's check needs them all.
    pub fn get(&mut self, data_type: &DataTypeId) -> Result<Option<&Value>, StoreError> {
        if !self.all_loaded && self.store.as_ref().is_some_and(Store::is_shared) {
            self.load_all()?;
        }
        if !self.loaded.contains_key(data_type) && !self.all_loaded {
            let value = match &self.store {
                Some(store) => store.data(self.instance, data_type)?,
                None => None,
            };
            self.loaded.insert(data_type.clone(), value);
        }
        Ok(self.loaded.get(data_type).and_then(Option::as_ref))
    }

    /// Loads every data type of the instance (for gateways and job snapshots).
    pub fn load_all(&mut self) -> Result<&BTreeMap<DataTypeId, Option<Value>>, StoreError> {
        if !self.all_loaded {
            if let Some(store) = &self.store {
                for (k, v) in store.all_data(self.instance)? {
                    self.loaded.entry(k).or_insert(Some(v));
                }
            }
            self.all_loaded = true;
        }
        Ok(&self.loaded)
    }

    /// Every loaded data type that has a value.
    pub fn snapshot(&self) -> BTreeMap<DataTypeId, Value> {
        self.loaded
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
            .collect()
    }

    pub fn set(&mut self, data_type: DataTypeId, value: Value) {
        self.dirty.insert(data_type.clone());
        self.loaded.insert(data_type, Some(value));
    }

    /// The data types written in this transition, with their new values.
    pub fn written(&self) -> impl Iterator<Item = (&DataTypeId, &Value)> {
        self.dirty
            .iter()
            .filter_map(|k| self.loaded.get(k).and_then(Option::as_ref).map(|v| (k, v)))
    }
}
