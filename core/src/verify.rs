//! Report signature, AMD certificate chain and report/certificate binding. (Issue 3.)
