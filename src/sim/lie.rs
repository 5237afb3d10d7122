//! What a hostile device says about an object instead of the truth: a name no file
//! system takes (`/`, `..`, NUL, control characters, a thousand bytes, a twin's name),
//! a size the data does not match, a wrong format, a date that moves on every read.
//! The data phase still sends the object's real bytes, so a lying size makes the data
//! longer or shorter than announced.

use std::collections::HashMap;

use chrono::{NaiveDateTime, TimeDelta};

use super::model::ObjKey;
use crate::ptp::ObjectFormat;

/// The lies told about one object; `None` tells the truth.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lie {
    /// The file name reported in ObjectInfo and ObjectFileName.
    pub name: Option<String>,
    /// The size reported (ObjectInfo and ObjectSize).
    pub size: Option<u64>,
    /// The object format reported.
    pub format: Option<ObjectFormat>,
    /// Seconds added to the reported date on each report after the first.
    pub date_drift_secs: i64,
    /// A folder that lists its own parent among its children: a loop in the tree
    /// (parent → this folder → parent → …).
    pub lists_its_parent: bool,
}

/// Every lie, and how often each object's date was reported.
#[derive(Debug, Default)]
pub(crate) struct Lies {
    by_key: HashMap<ObjKey, Lie>,
    reports: HashMap<ObjKey, i64>,
}

impl Lies {
    pub(crate) fn tell(&mut self, key: ObjKey, lie: Lie) {
        self.by_key.insert(key, lie);
    }

    pub(crate) fn about(&self, key: &ObjKey) -> Option<&Lie> {
        self.by_key.get(key)
    }

    /// The date to report for `key` this time: the truth, moved by the drift times the
    /// reports made before.
    pub(crate) fn date(&mut self, key: &ObjKey, mtime: NaiveDateTime) -> NaiveDateTime {
        let Some(drift) = self
            .by_key
            .get(key)
            .map(|lie| lie.date_drift_secs)
            .filter(|&d| d != 0)
        else {
            return mtime;
        };
        let reports = self.reports.entry(key.clone()).or_default();
        let date = mtime + TimeDelta::seconds(drift.saturating_mul(*reports));
        *reports += 1;
        date
    }
}
