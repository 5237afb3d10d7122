//! PTP/MTP protocol: containers, codes and datasets, with no I/O.
