//! X.509 DER reading without allocation, with AMD's VCEK/VLEK extensions. (Issue 3.)
