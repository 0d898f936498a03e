//! The connection handshake (MongoDB Handshake spec): the initial `hello` with the client's
//! metadata, and the hello commands of monitoring (Server Monitoring spec).

pub(crate) mod hello;
pub(crate) mod metadata;

pub(crate) use hello::{
    handshake, handshake_with_fields, hello_command, Handshake, HandshakeOptions,
};
