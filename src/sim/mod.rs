//! Simulated MongoDB deployments on loopback: real sockets, the real wire protocol.
