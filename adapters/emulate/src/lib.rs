//! Local emulators of IMDS/THIM, AMD KDS, MAA and managed HSM
