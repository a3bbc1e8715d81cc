//! Clients for the Azure services the sidecars use
