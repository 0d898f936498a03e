//! The MongoDB wire protocol codec, shared by the simulator and the client: message
//! header, OP_MSG, OP_QUERY and OP_REPLY, with size limits. No I/O.
