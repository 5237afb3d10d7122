//! Counting transactions: the measure of how fast a listing is on a real
//! device, where each round trip costs milliseconds.

use std::collections::BTreeMap;
use std::fmt;

use crate::ptp::OperationCode;

/// Transactions sent in a session, in total and per operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransactionStats {
    total: u64,
    per_operation: BTreeMap<OperationCode, u64>,
}

impl TransactionStats {
    pub(super) fn record(&mut self, op: OperationCode) {
        self.total += 1;
        *self.per_operation.entry(op).or_default() += 1;
    }

    /// All transactions.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Transactions of one operation.
    pub fn count(&self, op: OperationCode) -> u64 {
        self.per_operation.get(&op).copied().unwrap_or(0)
    }

    /// Each operation used, with its count, in code order.
    pub fn per_operation(&self) -> impl Iterator<Item = (OperationCode, u64)> + '_ {
        self.per_operation.iter().map(|(op, n)| (*op, *n))
    }
}

impl fmt::Display for TransactionStats {
    /// "12 transactions (GetObjectHandles 1, GetObjectInfo 9, …)".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} transactions", self.total)?;
        let mut separator = " (";
        for (op, n) in self.per_operation() {
            write!(f, "{separator}{op} {n}")?;
            separator = ", ";
        }
        if self.total > 0 {
            f.write_str(")")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_prints_per_operation() {
        let mut stats = TransactionStats::default();
        assert_eq!(stats.to_string(), "0 transactions");
        stats.record(OperationCode::GET_OBJECT_INFO);
        stats.record(OperationCode::GET_OBJECT_HANDLES);
        stats.record(OperationCode::GET_OBJECT_INFO);
        assert_eq!(stats.total(), 3);
        assert_eq!(stats.count(OperationCode::GET_OBJECT_INFO), 2);
        assert_eq!(
            stats.to_string(),
            "3 transactions (GetObjectHandles 1, GetObjectInfo 2)"
        );
    }
}
