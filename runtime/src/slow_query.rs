//! The slow-query log: JSON lines with size-based rotation.
